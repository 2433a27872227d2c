#include "proxy/http/query_pairs.h"

#include <cctype>

namespace atrium::proxy::http {

int hexDigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percentDecode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '+') {
      out.push_back(' ');
    } else if (in[i] == '%' && i + 2 < in.size() && hexDigitValue(in[i + 1]) >= 0 &&
               hexDigitValue(in[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hexDigitValue(in[i + 1]) * 16 + hexDigitValue(in[i + 2])));
      i += 2;
    } else {
      out.push_back(in[i]);
    }
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> parseQueryPairs(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    out.emplace_back(percentDecode(pair.substr(0, eq)),
                     eq == std::string_view::npos ? std::string() : percentDecode(pair.substr(eq + 1)));
  }
  return out;
}

}  // namespace atrium::proxy::http
