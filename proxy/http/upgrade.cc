#include "proxy/http/upgrade.h"

#include <boost/beast/core/string.hpp>

namespace atrium::proxy::http {

namespace bhttp = boost::beast::http;

namespace {

// RFC 9110 §5.6.2 tchar.
bool isTokenChar(unsigned char c) {
  if (c >= '0' && c <= '9') return true;
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

template <class Fields>
bool anyLineHasToken(const Fields& fields, bhttp::field name, std::string_view token) {
  auto [first, last] = fields.equal_range(name);
  for (auto it = first; it != last; ++it) {
    const auto v = it->value();
    if (listHasToken(std::string_view(v.data(), v.size()), token)) return true;
  }
  return false;
}

}  // namespace

bool listHasToken(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    const size_t comma = value.find(',');
    std::string_view element = value.substr(0, comma);
    value = comma == std::string_view::npos ? std::string_view() : value.substr(comma + 1);
    while (!element.empty() && (element.front() == ' ' || element.front() == '\t')) {
      element.remove_prefix(1);
    }
    while (!element.empty() && (element.back() == ' ' || element.back() == '\t')) {
      element.remove_suffix(1);
    }
    if (element.size() != token.size()) continue;
    bool valid = true;
    for (unsigned char c : element) valid = valid && isTokenChar(c);
    if (valid && boost::beast::iequals(element, token)) return true;
  }
  return false;
}

template <class Fields>
bool isWebSocketUpgrade(std::string_view method, unsigned version, const Fields& fields) {
  // RFC 6455 §4.1: the opening handshake is an HTTP/1.1 (or later) GET.
  if (method != "GET" || version < 11) return false;
  return anyLineHasToken(fields, bhttp::field::connection, "upgrade") &&
         anyLineHasToken(fields, bhttp::field::upgrade, "websocket");
}

template <class Fields>
bool acceptsWebSocket(const Fields& response_fields) {
  return anyLineHasToken(response_fields, bhttp::field::upgrade, "websocket");
}

template bool isWebSocketUpgrade<bhttp::fields>(std::string_view, unsigned, const bhttp::fields&);
template bool isWebSocketUpgrade<PmrFields>(std::string_view, unsigned, const PmrFields&);
template bool acceptsWebSocket<bhttp::fields>(const bhttp::fields&);
template bool acceptsWebSocket<PmrFields>(const PmrFields&);

}  // namespace atrium::proxy::http
