#pragma once
// The client IP of a request (SPEC §2 --trusted-proxies): the TCP peer, unless the peer is a
// trusted proxy; then X-Forwarded-For is read from the right, skipping trusted hops, and the
// first address that is not trusted is the client (nginx's real_ip_recursive). Addresses a
// client wrote further left are never believed: anyone can send "X-Forwarded-For: 1.2.3.4".
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/filters/ip_filter.h"

namespace atrium::proxy::http {

struct ClientAddress {
  std::string text;               // as it appears in logs and rate-limit keys
  std::array<uint8_t, 16> bytes{};  // IPv6 form (IPv4 as ::ffff:a.b.c.d), for IP filters
};

// Parses an IPv4 or IPv6 literal (IPv6 optionally in brackets; an IPv4 "a.b.c.d:port" as some
// proxies write it). nullopt if it is not one.
std::optional<ClientAddress> parseAddress(std::string_view text);

class TrustedProxies {
 public:
  TrustedProxies() = default;
  // Comma-separated CIDRs or addresses; nullopt and a one-line reason on a bad entry.
  static std::optional<TrustedProxies> parse(std::string_view cidrs, std::string& error);

  bool empty() const { return filter_.empty(); }
  // `forwarded_for`: every X-Forwarded-For field value, in order.
  ClientAddress clientOf(const ClientAddress& peer,
                         const std::vector<std::string_view>& forwarded_for) const;

 private:
  filters::IpFilter filter_;
};

}  // namespace atrium::proxy::http
