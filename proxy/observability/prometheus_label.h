#pragma once
// A label value in the Prometheus text format: backslash, double quote and newline escaped.
// Route, backend and consumer names are validated names, but the format requires the escaping
// and one name with a quote would otherwise corrupt the whole scrape.
#include <string>
#include <string_view>

namespace atrium::proxy::observability {

inline std::string escapeLabel(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    if (c == '\\' || c == '"') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

}  // namespace atrium::proxy::observability
