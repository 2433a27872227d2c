#pragma once
// Which requests ask to switch to the WebSocket protocol, and whether an upstream's 101 agreed
// (RFC 6455 §4, RFC 9110 §7.8). Kept apart from the session so the rules are unit-tested on
// plain header sets.
#include <string_view>

#include "proxy/http/header_rules.h"

namespace atrium::proxy::http {

// True when the comma-separated list `value` holds `token` (case-insensitive, spaces around
// the elements ignored). An element with anything but token characters never matches.
bool listHasToken(std::string_view value, std::string_view token);

// An HTTP/1.1 GET whose Connection lines list "upgrade" and whose Upgrade lines list
// "websocket" (both case-insensitive, in any of several lines). Anything else is an ordinary
// request, whose Upgrade header is removed as hop-by-hop.
template <class Fields>
bool isWebSocketUpgrade(std::string_view method, unsigned version, const Fields& fields);

// The upstream's 101 switched to WebSocket: its Upgrade lines name "websocket". A 101 to
// another protocol than the one asked for is not relayed.
template <class Fields>
bool acceptsWebSocket(const Fields& response_fields);

}  // namespace atrium::proxy::http
