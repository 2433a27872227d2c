#pragma once
// The target template of an aggregate call (SPEC §5.5): an origin-form path and query with
// placeholders `{query.NAME}`, `{header.NAME}` and `{path}`. Parsed by the translator and by
// validate() (a bad template is refused when loaded) and by the proxy, which fills it per
// request (proxy/aggregate/call_target.h).
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace atrium::config {

struct TemplatePart {
  enum class Kind { Literal, Query, Header, Path };
  Kind kind = Kind::Literal;
  // Literal: the text. Query: the parameter name. Header: the lower-case header name.
  std::string text;
  bool in_query = false;  // after the template's '?': the value is encoded for a query
};

// Splits `tmpl` into parts. The template starts with '/', holds visible ASCII only (no space,
// '#', or a '{' / '}' outside a placeholder), and names in placeholders are non-empty:
// query names of unreserved characters, header names of token characters. Returns the
// problem, or nullopt when the template is valid.
std::optional<std::string> parseCallTemplate(std::string_view tmpl, std::vector<TemplatePart>& out);

}  // namespace atrium::config
