#include "proxy/filters/ip_filter.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace atrium::proxy::filters {
namespace {

// The 16-byte form the session hands the filter: IPv4 peers as ::ffff:a.b.c.d.
std::array<uint8_t, 16> addr(const std::string& text) {
  std::array<uint8_t, 16> out{};
  unsigned char v4[4];
  if (inet_pton(AF_INET, text.c_str(), v4) == 1) {
    out[10] = out[11] = 0xff;
    std::copy(v4, v4 + 4, out.begin() + 12);
    return out;
  }
  if (inet_pton(AF_INET6, text.c_str(), out.data()) != 1) throw std::invalid_argument(text);
  return out;
}

TEST(IpFilter, EmptyContainsNothing) {
  IpFilter f;
  EXPECT_TRUE(f.empty());
  EXPECT_FALSE(f.contains(addr("10.0.0.1")));
  EXPECT_FALSE(f.contains(addr("::1")));
}

TEST(IpFilter, Ipv4Cidr) {
  IpFilter f({"10.0.0.0/8", "192.168.1.0/24"});
  EXPECT_FALSE(f.empty());
  EXPECT_TRUE(f.contains(addr("10.0.0.1")));
  EXPECT_TRUE(f.contains(addr("10.255.255.255")));
  EXPECT_FALSE(f.contains(addr("11.0.0.0")));
  EXPECT_FALSE(f.contains(addr("9.255.255.255")));
  EXPECT_TRUE(f.contains(addr("192.168.1.77")));
  EXPECT_FALSE(f.contains(addr("192.168.2.1")));
}

TEST(IpFilter, Ipv4PrefixNotOnAByteBoundary) {
  IpFilter f({"172.16.0.0/12"});
  EXPECT_TRUE(f.contains(addr("172.16.0.1")));
  EXPECT_TRUE(f.contains(addr("172.31.255.255")));
  EXPECT_FALSE(f.contains(addr("172.32.0.0")));
  EXPECT_FALSE(f.contains(addr("172.15.255.255")));
}

TEST(IpFilter, Ipv4HostRoute) {
  IpFilter slash32({"203.0.113.7/32"});
  EXPECT_TRUE(slash32.contains(addr("203.0.113.7")));
  EXPECT_FALSE(slash32.contains(addr("203.0.113.6")));
  EXPECT_FALSE(slash32.contains(addr("203.0.113.8")));
  IpFilter bare({"203.0.113.7"});  // a bare address is a /32
  EXPECT_TRUE(bare.contains(addr("203.0.113.7")));
  EXPECT_FALSE(bare.contains(addr("203.0.113.70")));
}

TEST(IpFilter, Ipv4SlashZeroIsEveryIpv4Address) {
  IpFilter f({"0.0.0.0/0"});
  EXPECT_TRUE(f.contains(addr("0.0.0.0")));
  EXPECT_TRUE(f.contains(addr("255.255.255.255")));
  EXPECT_TRUE(f.contains(addr("10.1.2.3")));
  EXPECT_FALSE(f.contains(addr("2001:db8::1")));
  EXPECT_FALSE(f.contains(addr("::1")));
}

TEST(IpFilter, Ipv6SlashZeroIsEveryAddress) {
  IpFilter f({"::/0"});
  EXPECT_TRUE(f.contains(addr("2001:db8::1")));
  EXPECT_TRUE(f.contains(addr("::1")));
  EXPECT_TRUE(f.contains(addr("10.0.0.1")));  // as ::ffff:10.0.0.1
}

TEST(IpFilter, Ipv6Cidr) {
  IpFilter f({"2001:db8::/32", "fe80::/10"});
  EXPECT_TRUE(f.contains(addr("2001:db8::1")));
  EXPECT_TRUE(f.contains(addr("2001:db8:ffff:ffff::")));
  EXPECT_FALSE(f.contains(addr("2001:db9::1")));
  EXPECT_TRUE(f.contains(addr("fe80::1")));
  EXPECT_TRUE(f.contains(addr("febf::1")));
  EXPECT_FALSE(f.contains(addr("fec0::1")));
  EXPECT_FALSE(f.contains(addr("10.0.0.1")));
}

TEST(IpFilter, Ipv6HostRoute) {
  IpFilter f({"::1"});
  EXPECT_TRUE(f.contains(addr("::1")));
  EXPECT_FALSE(f.contains(addr("::2")));
  IpFilter g({"2001:db8::7/128"});
  EXPECT_TRUE(g.contains(addr("2001:db8::7")));
  EXPECT_FALSE(g.contains(addr("2001:db8::6")));
}

TEST(IpFilter, V4MappedPeersMatchIpv4Ranges) {
  IpFilter f({"10.0.0.0/8"});
  EXPECT_TRUE(f.contains(addr("::ffff:10.1.2.3")));
  EXPECT_FALSE(f.contains(addr("::ffff:11.1.2.3")));
  // A v4-mapped range written in IPv6 form covers the same IPv4 clients.
  IpFilter mapped({"::ffff:192.168.0.0/112"});
  EXPECT_TRUE(mapped.contains(addr("192.168.3.4")));
  EXPECT_FALSE(mapped.contains(addr("192.169.0.1")));
}

TEST(IpFilter, HostBitsInTheNetworkAreIgnored) {
  IpFilter f({"10.1.2.3/8"});
  EXPECT_TRUE(f.contains(addr("10.200.0.1")));
  EXPECT_FALSE(f.contains(addr("11.1.2.3")));
}

TEST(IpFilter, InvalidEntriesAreSkipped) {
  for (const char* bad : {"not-an-ip", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/x", "10.0.0.0/8x",
                          "10.0.0.0/", "10.0.0.0/+8", "10.0.0.0/ 8", "::/129", "", "/8"}) {
    IpFilter f({bad, "192.168.0.0/16"});
    EXPECT_TRUE(f.contains(addr("192.168.9.9"))) << bad;
    EXPECT_FALSE(f.contains(addr("10.0.0.0"))) << bad;
    EXPECT_FALSE(f.contains(addr("10.0.0.1"))) << bad;
    EXPECT_FALSE(f.contains(addr("::"))) << bad;
  }
}

TEST(IpFilter, ListOfOnlyInvalidEntriesFailsClosed) {
  // The session applies an allow list when it is not empty: one whose entries are all unusable
  // must allow nobody, not everybody.
  IpFilter f({"garbage", "10.0.0.0/"});
  EXPECT_FALSE(f.empty());
  EXPECT_FALSE(f.contains(addr("10.0.0.1")));
  EXPECT_FALSE(f.contains(addr("::1")));
}

}  // namespace
}  // namespace atrium::proxy::filters
