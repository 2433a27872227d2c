#pragma once
// Syntax checks for values that end up on the wire or in a matcher. They stop header injection
// (CR/LF in a configured header), malformed hosts that could never match, and regexes that RE2
// cannot run in linear time.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace atrium::controller::translator {

// A lower-cased DNS name, optionally with one leading "*." label. Empty reason = valid.
std::string checkHostname(std::string_view host);
// An HTTP token (RFC 9110 field-name).
bool isHeaderName(std::string_view name);
// One of the methods of RFC 9110 and PATCH, upper-case as the CRDs' enums list them (matches,
// cache.methods): a misspelt method would silently match or cache nothing.
bool isMethod(std::string_view method);
// A field value: visible ASCII, obs-text, spaces and tabs; never CR, LF or NUL.
bool isHeaderValue(std::string_view value);
// An absolute path usable in a match or rewrite: starts with '/', no '?', '#', spaces or CTLs.
std::string checkPath(std::string_view path);
// A path of an Exact or prefix match: checkPath, plus what Kubernetes and Gateway API refuse
// there ("//", "/./", "/../", "%2F", a trailing "/." or "/.."); escapes are rewritten in place
// to the data plane's normal form. Empty reason = valid.
std::string normalizeMatchPath(std::string& path);
// Compiles with RE2; empty reason = valid.
std::string checkRegex(const std::string& pattern);
// Prefix paths compare element-wise: "/foo/" and "/foo//" mean "/foo"; "/" stays "/".
std::string canonicalPrefix(std::string_view path);
// A whole number written in decimal digits only (no sign, no spaces) in [min, max]; nullopt
// otherwise.
std::optional<uint64_t> parseCount(const std::string& v, uint64_t min, uint64_t max);
// A CIDR ("10.0.0.0/8", "2001:db8::/32") or a single address.
bool isCidr(std::string_view cidr);

}  // namespace atrium::controller::translator
