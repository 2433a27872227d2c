#include "src/common/units.h"

#include <cctype>
#include <string>

namespace atrium::common {

namespace {

// Reads a non-negative decimal number ("12", "1.5", ".5", "5.") from the front of `text`.
// Exactly one optional '.', so "1..5" or "1.2.3" are not silently read as a prefix.
bool parseNumber(std::string_view& text, double& value) {
  size_t i = 0;
  bool digits = false, dot = false;
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (std::isdigit(static_cast<unsigned char>(c))) {
      digits = true;
    } else if (c == '.' && !dot) {
      dot = true;
    } else {
      break;
    }
  }
  if (!digits) return false;
  if (i < text.size() && text[i] == '.') return false;  // a second '.'
  try {
    value = std::stod(std::string(text.substr(0, i)));
  } catch (...) {
    return false;  // out of range
  }
  text.remove_prefix(i);
  return true;
}

}  // namespace

std::optional<std::chrono::milliseconds> parseDuration(std::string_view text,
                                                       int64_t bare_number_unit_ms) {
  if (text.empty()) return std::nullopt;
  if (text == "0") return std::chrono::milliseconds(0);  // Go accepts a unit-less zero
  double total_ms = 0;
  bool first = true;
  while (!text.empty()) {
    double value = 0;
    if (!parseNumber(text, value)) return std::nullopt;
    if (text.empty()) {
      if (!first || bare_number_unit_ms <= 0) return std::nullopt;
      total_ms = value * static_cast<double>(bare_number_unit_ms);
      break;
    }
    first = false;
    double unit_ms;
    if (text.rfind("ms", 0) == 0) {
      unit_ms = 1, text.remove_prefix(2);
    } else if (text.rfind("us", 0) == 0) {
      unit_ms = 0.001, text.remove_prefix(2);
    } else if (text.rfind("\u00b5s", 0) == 0 || text.rfind("\u03bcs", 0) == 0) {  // Go's µs
      unit_ms = 0.001, text.remove_prefix(3);
    } else if (text.rfind("ns", 0) == 0) {
      unit_ms = 0.000001, text.remove_prefix(2);
    } else if (text.front() == 's') {
      unit_ms = 1000, text.remove_prefix(1);
    } else if (text.front() == 'm') {
      unit_ms = 60'000, text.remove_prefix(1);
    } else if (text.front() == 'h') {
      unit_ms = 3'600'000, text.remove_prefix(1);
    } else if (text.front() == 'd') {
      unit_ms = 86'400'000, text.remove_prefix(1);
    } else {
      return std::nullopt;
    }
    total_ms += value * unit_ms;
  }
  if (total_ms < 0 || total_ms > 1e15) return std::nullopt;
  return std::chrono::milliseconds(static_cast<int64_t>(total_ms + 0.5));
}

std::optional<uint64_t> parseByteSize(std::string_view text) {
  double value = 0;
  if (!parseNumber(text, value)) return std::nullopt;
  double factor = 1;
  std::string unit(text);
  if (unit.empty() || unit == "b" || unit == "B") {
    factor = 1;
  } else if (unit == "k" || unit == "K" || unit == "Ki") {
    factor = 1024.0;
  } else if (unit == "m" || unit == "M" || unit == "Mi") {
    factor = 1024.0 * 1024;
  } else if (unit == "g" || unit == "G" || unit == "Gi") {
    factor = 1024.0 * 1024 * 1024;
  } else if (unit == "kB" || unit == "KB") {
    factor = 1e3;
  } else if (unit == "MB") {
    factor = 1e6;
  } else if (unit == "GB") {
    factor = 1e9;
  } else {
    return std::nullopt;
  }
  double bytes = value * factor;
  if (bytes < 0 || bytes > 1.8e19) return std::nullopt;
  return static_cast<uint64_t>(bytes);
}

}  // namespace atrium::common
