#include "proxy/admin/admin_access.h"

#include <openssl/crypto.h>

#include <boost/asio/ip/address.hpp>

namespace atrium::proxy::admin {

namespace net = boost::asio;

bool adminAuthorized(std::string_view peer, std::optional<std::string_view> authorization,
                     const std::string& token) {
  boost::system::error_code ec;
  const auto address = net::ip::make_address(std::string(peer), ec);
  if (!ec && (address.is_loopback() ||
              (address.is_v6() && address.to_v6().is_v4_mapped() &&
               net::ip::make_address_v4(net::ip::v4_mapped, address.to_v6()).is_loopback()))) {
    return true;
  }
  if (token.empty() || !authorization) return false;
  std::string_view value = *authorization;
  if (value.substr(0, 7) != "Bearer ") return false;
  const std::string_view presented = value.substr(7);
  // Constant time, so response timing reveals nothing about the token.
  return presented.size() == token.size() &&
         CRYPTO_memcmp(presented.data(), token.data(), presented.size()) == 0;
}

}  // namespace atrium::proxy::admin
