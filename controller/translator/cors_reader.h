#pragma once
// An APIRoute's policy.cors (SPEC §3.2) → config::CorsPolicy. Every problem is an error at its
// exact field path and nothing is returned for it: the caller then leaves the route (or rule)
// out, as for any other invalid policy, rather than serve it with cross-origin rules other than
// the ones written (too wide lets any site read the API with the user's cookies; too narrow
// breaks the site that was meant to be allowed).
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "controller/translator/field_reader.h"
#include "src/config/snapshot.h"

namespace atrium::controller::translator {

// The CRD's bounds, so an object means the same in a cluster and in manifests mode.
inline constexpr size_t kMaxCorsOrigins = 32;
inline constexpr size_t kMaxCorsOriginLength = 512;
inline constexpr size_t kMaxCorsMethods = 10;
inline constexpr size_t kMaxCorsHeaders = 32;
inline constexpr size_t kMaxCorsHeaderLength = 256;
inline constexpr int64_t kMaxCorsMaxAge = 86400;

// An allowOrigins entry in the form the data plane compares (config::CorsPolicy): "*", or
// "scheme://host[:port]" with scheme http or https, scheme and host lower-cased, the host a DNS
// name (maybe "*."-prefixed: any subdomain), an IPv4 address or a bracketed IPv6 address, and
// the scheme's default port dropped (browsers never send it in Origin, so it could not match).
// nullopt and `problem` set when the entry is none of these.
std::optional<std::string> normalizeCorsOrigin(std::string_view origin, std::string& problem);

// The object at `path`, applied field by field on top of `base` (the route-wide cors when a rule
// writes its own, else the IR defaults): what the object does not write is inherited. Lists
// replace the inherited ones whole and are stored sorted without duplicates (methods
// upper-case, header names lower-case) so that equal sets make equal snapshots.
// allowCredentials with the origin "*" (once inherited fields are applied) is an error: browsers
// refuse credentialed responses to a wildcard origin, and echoing every origin instead would let
// any site read the API with the user's cookies.
std::optional<config::CorsPolicy> readCorsPolicy(FieldReader& r, const nlohmann::json& cors,
                                                 const std::string& path,
                                                 config::CorsPolicy base = {});

}  // namespace atrium::controller::translator
