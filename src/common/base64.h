#pragma once
// Standard base64 (RFC 4648 §4), as Kubernetes uses it for Secret data and kubeconfig fields.
#include <string>
#include <string_view>

namespace atrium::common {

// Decodes `text` (padding optional, whitespace ignored); throws std::runtime_error when invalid.
std::string decodeBase64(std::string_view text);

}  // namespace atrium::common
