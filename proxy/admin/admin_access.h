#pragma once
// Who may call the protected admin endpoints (/config, /usage, DELETE /cache; SPEC §6): a
// client on loopback, or anyone presenting the --admin-token-file token as a bearer token
// (compared in constant time).
#include <optional>
#include <string>
#include <string_view>

namespace atrium::proxy::admin {

// `peer`: the client's address as text (IPv4, IPv6 or IPv4-mapped IPv6).
// `authorization`: the Authorization header, if sent. `token`: empty when none is configured.
bool adminAuthorized(std::string_view peer, std::optional<std::string_view> authorization,
                     const std::string& token);

}  // namespace atrium::proxy::admin
