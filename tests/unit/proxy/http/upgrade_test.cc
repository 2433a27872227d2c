#include "proxy/http/upgrade.h"

#include <gtest/gtest.h>

namespace atrium::proxy::http {
namespace {

namespace bhttp = boost::beast::http;

bhttp::fields upgradeHeaders(std::string_view connection, std::string_view upgrade) {
  bhttp::fields f;
  f.insert(bhttp::field::connection, connection);
  f.insert(bhttp::field::upgrade, upgrade);
  return f;
}

TEST(Upgrade, ListHasToken) {
  EXPECT_TRUE(listHasToken("upgrade", "upgrade"));
  EXPECT_TRUE(listHasToken("Upgrade", "upgrade"));
  EXPECT_TRUE(listHasToken("keep-alive, Upgrade", "upgrade"));
  EXPECT_TRUE(listHasToken(" keep-alive ,\tUPGRADE\t", "upgrade"));
  EXPECT_TRUE(listHasToken(",,upgrade,", "upgrade"));
  EXPECT_FALSE(listHasToken("", "upgrade"));
  EXPECT_FALSE(listHasToken("upgraded", "upgrade"));
  EXPECT_FALSE(listHasToken("x-upgrade", "upgrade"));
  EXPECT_FALSE(listHasToken("up grade", "upgrade"));
  EXPECT_FALSE(listHasToken("\"upgrade\"", "upgrade"));
  EXPECT_FALSE(listHasToken("keep-alive", "upgrade"));
}

TEST(Upgrade, WebSocketRequestIsAGetWithBothHeaders) {
  EXPECT_TRUE(isWebSocketUpgrade("GET", 11, upgradeHeaders("Upgrade", "websocket")));
  EXPECT_TRUE(isWebSocketUpgrade("GET", 11, upgradeHeaders("keep-alive, upgrade", "WebSocket")));
  EXPECT_TRUE(isWebSocketUpgrade("GET", 11, upgradeHeaders("UPGRADE", "h2c, websocket")));
  // Not a WebSocket handshake: method, version, a missing token or another protocol.
  EXPECT_FALSE(isWebSocketUpgrade("POST", 11, upgradeHeaders("Upgrade", "websocket")));
  EXPECT_FALSE(isWebSocketUpgrade("get", 11, upgradeHeaders("Upgrade", "websocket")));
  EXPECT_FALSE(isWebSocketUpgrade("GET", 10, upgradeHeaders("Upgrade", "websocket")));
  EXPECT_FALSE(isWebSocketUpgrade("GET", 11, upgradeHeaders("keep-alive", "websocket")));
  EXPECT_FALSE(isWebSocketUpgrade("GET", 11, upgradeHeaders("Upgrade", "h2c")));
  EXPECT_FALSE(isWebSocketUpgrade("GET", 11, upgradeHeaders("Upgrade", "websocket/13x y")));
  bhttp::fields only_upgrade;
  only_upgrade.insert(bhttp::field::upgrade, "websocket");
  EXPECT_FALSE(isWebSocketUpgrade("GET", 11, only_upgrade));
  bhttp::fields none;
  EXPECT_FALSE(isWebSocketUpgrade("GET", 11, none));
}

TEST(Upgrade, TokensMayComeInSeveralLines) {
  bhttp::fields f;
  f.insert(bhttp::field::connection, "keep-alive");
  f.insert(bhttp::field::connection, "Upgrade");
  f.insert(bhttp::field::upgrade, "foo");
  f.insert(bhttp::field::upgrade, "websocket");
  EXPECT_TRUE(isWebSocketUpgrade("GET", 11, f));
}

TEST(Upgrade, UpstreamMustSwitchToWebSocket) {
  bhttp::fields ok;
  ok.insert(bhttp::field::upgrade, "WebSocket");
  EXPECT_TRUE(acceptsWebSocket(ok));
  bhttp::fields other;
  other.insert(bhttp::field::upgrade, "h2c");
  EXPECT_FALSE(acceptsWebSocket(other));
  bhttp::fields none;
  EXPECT_FALSE(acceptsWebSocket(none));
}

}  // namespace
}  // namespace atrium::proxy::http
