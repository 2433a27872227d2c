#include "proxy/http/client_ip.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace atrium::proxy::http {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::optional<ClientAddress> parseAddress(std::string_view text) {
  text = trim(text);
  if (text.empty() || text.size() > 64) return std::nullopt;
  std::string s(text);
  if (s.front() == '[') {
    const auto close = s.find(']');
    if (close == std::string::npos) return std::nullopt;
    s = s.substr(1, close - 1);
  } else if (std::count(s.begin(), s.end(), ':') == 1) {
    s.resize(s.find(':'));  // IPv4 with a port
  }
  ClientAddress out;
  unsigned char v4[4];
  char buf[INET6_ADDRSTRLEN];
  if (inet_pton(AF_INET, s.c_str(), v4) == 1) {
    out.bytes[10] = out.bytes[11] = 0xff;
    std::memcpy(&out.bytes[12], v4, 4);
    inet_ntop(AF_INET, v4, buf, sizeof buf);
  } else if (inet_pton(AF_INET6, s.c_str(), out.bytes.data()) == 1) {
    inet_ntop(AF_INET6, out.bytes.data(), buf, sizeof buf);
  } else {
    return std::nullopt;
  }
  out.text = buf;  // canonical form: one client, one rate-limit key
  return out;
}

std::optional<TrustedProxies> TrustedProxies::parse(std::string_view cidrs, std::string& error) {
  std::vector<std::string> entries;
  while (!cidrs.empty()) {
    const size_t comma = cidrs.find(',');
    std::string_view entry = trim(cidrs.substr(0, comma));
    cidrs = comma == std::string_view::npos ? std::string_view() : cidrs.substr(comma + 1);
    if (entry.empty()) continue;
    // Validate each entry on its own: IpFilter skips what it cannot read.
    filters::IpFilter one({std::string(entry)});
    const std::string_view address = entry.substr(0, entry.find('/'));
    auto parsed = parseAddress(address);
    if (!parsed || (entry.find('/') != std::string_view::npos && !one.contains(parsed->bytes))) {
      error = "--trusted-proxies: \"" + std::string(entry) + "\" is not a CIDR (10.0.0.0/8, fd00::/8) or an address";
      return std::nullopt;
    }
    entries.emplace_back(entry);
  }
  TrustedProxies t;
  t.filter_ = filters::IpFilter(entries);
  return t;
}

ClientAddress TrustedProxies::clientOf(const ClientAddress& peer,
                                       const std::vector<std::string_view>& forwarded_for) const {
  if (filter_.empty() || !filter_.contains(peer.bytes)) return peer;
  ClientAddress client = peer;
  // Right to left over all X-Forwarded-For lines (several lines are one list, RFC 9110 §5.3).
  for (auto line = forwarded_for.rbegin(); line != forwarded_for.rend(); ++line) {
    std::string_view rest = *line;
    while (!rest.empty()) {
      const size_t comma = rest.rfind(',');
      std::string_view entry = comma == std::string_view::npos ? rest : rest.substr(comma + 1);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(0, comma);
      auto address = parseAddress(entry);
      if (!address) return client;  // garbage: the last hop we could read is the best we know
      client = *address;
      if (!filter_.contains(client.bytes)) return client;
    }
  }
  return client;  // every hop trusted: the leftmost one
}

}  // namespace atrium::proxy::http
