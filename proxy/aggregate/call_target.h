#pragma once
// Fills an aggregate call's target template (src/config/call_template.h) from the client's
// request. Every value is percent-encoded for where it lands, so nothing a client sends can
// change the call: in the path a value stays one segment ('/', '?', '#', '%', '@', ':' and
// controls are encoded, and "." / ".." become "%2E" / "%2E%2E"); in the query a value stays one
// parameter value ('&', '=', '+' encoded too). The host is never part of the template, so the
// call always goes to its own service.
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/config/call_template.h"

namespace atrium::proxy::aggregate {

struct RequestValues {
  std::string_view path;   // the normalised request path
  std::string_view query;  // the raw query string, without '?'
  // A request header's value (lower-case name), or nullopt.
  std::function<std::optional<std::string_view>(std::string_view)> header;
};

// Unreserved characters (RFC 3986 §2.3) stay; every other byte becomes %XX.
std::string encodeComponent(std::string_view value);

// The call's origin-form target. A missing query parameter or header fills in as empty.
// Returns nullopt when the result would be longer than 8 KiB.
std::optional<std::string> fillCallTarget(const std::vector<config::TemplatePart>& parts,
                                          const RequestValues& request);

}  // namespace atrium::proxy::aggregate
