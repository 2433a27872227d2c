#pragma once
// Client-IP allow/deny lists (CIDRs, IPv4 and IPv6), compiled once per snapshot.
// An IPv4-mapped IPv6 peer (::ffff:10.0.0.1) is checked as its IPv4 address.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace atrium::proxy::filters {

class IpFilter {
 public:
  // Invalid entries are skipped (the translator has validated them already). A list that was
  // configured stays non-empty even if no entry is usable, so an allow list fails closed: it
  // then contains nobody instead of silently allowing everybody.
  explicit IpFilter(const std::vector<std::string>& cidrs = {});
  bool empty() const { return !configured_; }
  // `address` is 16 bytes of IPv6 (IPv4 as ::ffff:a.b.c.d).
  bool contains(const std::array<uint8_t, 16>& address) const;

 private:
  struct Range {
    std::array<uint8_t, 16> network;
    int prefix_bits;  // over the 128-bit form
  };
  std::vector<Range> ranges_;
  bool configured_ = false;
};

}  // namespace atrium::proxy::filters
