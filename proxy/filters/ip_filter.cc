#include "proxy/filters/ip_filter.h"

#include <arpa/inet.h>

#include <cstring>

namespace atrium::proxy::filters {

IpFilter::IpFilter(const std::vector<std::string>& cidrs) : configured_(!cidrs.empty()) {
  for (const auto& cidr : cidrs) {
    std::string addr = cidr;
    int bits = -1;
    if (auto slash = addr.find('/'); slash != std::string::npos) {
      // Digits only: stoi would read "-1" (then taken as "no prefix") or "8x" as a length.
      const std::string digits = addr.substr(slash + 1);
      if (digits.empty() || digits.size() > 3 ||
          digits.find_first_not_of("0123456789") != std::string::npos) {
        continue;
      }
      bits = std::stoi(digits);
      addr.resize(slash);
    }
    Range r{};
    unsigned char v4[4];
    if (inet_pton(AF_INET, addr.c_str(), v4) == 1) {
      r.network[10] = r.network[11] = 0xff;
      std::memcpy(&r.network[12], v4, 4);
      if (bits < 0) bits = 32;
      if (bits > 32) continue;
      r.prefix_bits = 96 + bits;
    } else if (inet_pton(AF_INET6, addr.c_str(), r.network.data()) == 1) {
      if (bits < 0) bits = 128;
      if (bits > 128) continue;
      r.prefix_bits = bits;
    } else {
      continue;
    }
    ranges_.push_back(r);
  }
}

bool IpFilter::contains(const std::array<uint8_t, 16>& address) const {
  for (const auto& r : ranges_) {
    int bits = r.prefix_bits;
    size_t i = 0;
    bool match = true;
    for (; bits >= 8; bits -= 8, ++i) {
      if (address[i] != r.network[i]) {
        match = false;
        break;
      }
    }
    if (match && bits > 0) {
      uint8_t mask = static_cast<uint8_t>(0xff << (8 - bits));
      match = (address[i] & mask) == (r.network[i] & mask);
    }
    if (match) return true;
  }
  return false;
}

}  // namespace atrium::proxy::filters
