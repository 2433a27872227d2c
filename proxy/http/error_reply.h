#pragma once
// The JSON body of every error the gateway answers itself (SPEC §4):
// {"error":{"status":404,"code":"route_not_found","message":"…","requestId":"…"}}
#include <string>
#include <string_view>

namespace atrium::proxy::http {

std::string errorBody(int status, std::string_view code, std::string_view message,
                      std::string_view request_id);

// Appends `text` to `out` as the inside of a JSON string (quotes not included).
void appendJsonEscaped(std::string& out, std::string_view text);

}  // namespace atrium::proxy::http
