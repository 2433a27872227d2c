#include "proxy/http/error_reply.h"

namespace atrium::proxy::http {

void appendJsonEscaped(std::string& out, std::string_view text) {
  static const char kHex[] = "0123456789abcdef";
  for (unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 15];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
}

std::string errorBody(int status, std::string_view code, std::string_view message,
                      std::string_view request_id) {
  std::string body;
  body.reserve(96 + message.size());
  body += "{\"error\":{\"status\":";
  body += std::to_string(status);
  body += ",\"code\":\"";
  appendJsonEscaped(body, code);
  body += "\",\"message\":\"";
  appendJsonEscaped(body, message);
  body += "\",\"requestId\":\"";
  appendJsonEscaped(body, request_id);
  body += "\"}}\n";
  return body;
}

}  // namespace atrium::proxy::http
