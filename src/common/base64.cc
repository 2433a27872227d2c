#include "src/common/base64.h"

#include <array>
#include <cstdint>
#include <stdexcept>

namespace atrium::common {

std::string decodeBase64(std::string_view text) {
  static const auto kTable = [] {
    std::array<int, 256> t{};
    t.fill(-1);
    const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(alphabet[i])] = i;
    return t;
  }();
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  bool padding = false;
  for (unsigned char c : text) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    if (c == '=') {
      padding = true;
      continue;
    }
    if (padding || kTable[c] < 0) throw std::runtime_error("invalid base64");
    acc = (acc << 6) | static_cast<uint32_t>(kTable[c]);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  if (bits >= 6) throw std::runtime_error("invalid base64");
  return out;
}

}  // namespace atrium::common
