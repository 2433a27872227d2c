#include "proxy/http/client_ip.h"

#include <gtest/gtest.h>

namespace atrium::proxy::http {
namespace {

ClientAddress addr(const char* text) { return parseAddress(text).value(); }

TEST(ClientIpTest, ParsesAndCanonicalisesAddresses) {
  EXPECT_EQ(addr("10.0.0.1").text, "10.0.0.1");
  EXPECT_EQ(addr(" 10.0.0.1 ").text, "10.0.0.1");
  EXPECT_EQ(addr("10.0.0.1:5555").text, "10.0.0.1");
  EXPECT_EQ(addr("[2001:DB8::1]").text, "2001:db8::1");
  EXPECT_EQ(addr("2001:0db8:0:0::1").text, "2001:db8::1");
  for (const char* bad : {"", "unknown", "10.0.0", "10.0.0.256", "[::1", "_hidden", "a:b:c"}) {
    EXPECT_FALSE(parseAddress(bad)) << bad;
  }
}

TEST(ClientIpTest, WithoutTrustedProxiesThePeerIsTheClient) {
  TrustedProxies none;
  EXPECT_EQ(none.clientOf(addr("10.0.0.9"), {"1.2.3.4"}).text, "10.0.0.9");
}

TEST(ClientIpTest, AnUntrustedPeerCannotSpoofItsAddress) {
  std::string error;
  auto trusted = TrustedProxies::parse("10.0.0.0/8", error).value();
  EXPECT_EQ(trusted.clientOf(addr("192.0.2.7"), {"1.2.3.4"}).text, "192.0.2.7");
}

TEST(ClientIpTest, TrustedHopsAreSkippedFromTheRight) {
  std::string error;
  auto trusted = TrustedProxies::parse("10.0.0.0/8, 192.168.1.1", error).value();
  // client → 10.1.1.1 (trusted LB) → peer 10.0.0.2; a client-written entry on the left is ignored.
  EXPECT_EQ(trusted.clientOf(addr("10.0.0.2"), {"6.6.6.6, 203.0.113.5, 10.1.1.1"}).text,
            "203.0.113.5");
  // Several header lines are one list.
  EXPECT_EQ(trusted.clientOf(addr("10.0.0.2"), {"6.6.6.6, 203.0.113.5", "192.168.1.1"}).text,
            "203.0.113.5");
  // All trusted: the leftmost.
  EXPECT_EQ(trusted.clientOf(addr("10.0.0.2"), {"10.9.9.9, 10.1.1.1"}).text, "10.9.9.9");
  // Garbage stops the walk at the last address that could be read.
  EXPECT_EQ(trusted.clientOf(addr("10.0.0.2"), {"203.0.113.5, nonsense, 10.1.1.1"}).text,
            "10.1.1.1");
  // No header: the peer.
  EXPECT_EQ(trusted.clientOf(addr("10.0.0.2"), {}).text, "10.0.0.2");
}

TEST(ClientIpTest, IPv6TrustedProxies) {
  std::string error;
  auto trusted = TrustedProxies::parse("fd00::/8", error).value();
  EXPECT_EQ(trusted.clientOf(addr("fd00::1"), {"2001:db8::5"}).text, "2001:db8::5");
}

TEST(ClientIpTest, BadTrustedProxyListsAreRefusedWithTheEntry) {
  std::string error;
  EXPECT_FALSE(TrustedProxies::parse("10.0.0.0/8,banana", error));
  EXPECT_NE(error.find("banana"), std::string::npos);
  EXPECT_FALSE(TrustedProxies::parse("10.0.0.0/33", error));
  EXPECT_FALSE(TrustedProxies::parse("10.0.0.0/x", error));
}

}  // namespace
}  // namespace atrium::proxy::http
