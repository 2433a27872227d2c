#pragma once
// A query string as decoded (name, value) pairs, for the admin endpoints' parameters
// (`+` is a space, %XX a byte; a pair without `=` has an empty value; empty pairs are skipped).
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace atrium::proxy::http {

// 0-15 for a hexadecimal digit, -1 for anything else.
int hexDigitValue(char c);
std::string percentDecode(std::string_view in);
std::vector<std::pair<std::string, std::string>> parseQueryPairs(std::string_view query);

}  // namespace atrium::proxy::http
