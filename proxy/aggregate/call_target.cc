#include "proxy/aggregate/call_target.h"

#include <cctype>

#include "proxy/http/query_pairs.h"

namespace atrium::proxy::aggregate {

namespace {

constexpr size_t kMaxTarget = 8192;
constexpr char kHex[] = "0123456789ABCDEF";

bool isUnreserved(unsigned char c) {
  return std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

void appendEncoded(std::string& out, unsigned char c) {
  out.push_back('%');
  out.push_back(kHex[c >> 4]);
  out.push_back(kHex[c & 15]);
}

// One path segment: "." and ".." would be dot-segments the upstream resolves.
std::string encodeSegment(std::string_view value) {
  if (value == "." || value == "..") {
    std::string out;
    for (size_t i = 0; i < value.size(); ++i) out += "%2E";
    return out;
  }
  return encodeComponent(value);
}

// The request path is already normalised (no dot-segments, no %2F, no controls): its '/' stay
// separators, and anything outside unreserved characters, '/' and existing %XX is encoded.
std::string encodePath(std::string_view path) {
  std::string out;
  out.reserve(path.size());
  for (size_t i = 0; i < path.size(); ++i) {
    const auto c = static_cast<unsigned char>(path[i]);
    if (isUnreserved(c) || c == '/') {
      out.push_back(static_cast<char>(c));
    } else if (c == '%' && i + 2 < path.size() && http::hexDigitValue(path[i + 1]) >= 0 &&
               http::hexDigitValue(path[i + 2]) >= 0) {
      out.append(path.substr(i, 3));
      i += 2;
    } else {
      appendEncoded(out, c);
    }
  }
  return out;
}

std::optional<std::string> queryValue(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const size_t eq = pair.find('=');
    if (http::percentDecode(pair.substr(0, eq)) != name) continue;
    if (eq == std::string_view::npos) return std::string();
    return http::percentDecode(pair.substr(eq + 1));
  }
  return std::nullopt;
}

}  // namespace

std::string encodeComponent(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (unsigned char c : value) {
    if (isUnreserved(c)) {
      out.push_back(static_cast<char>(c));
    } else {
      appendEncoded(out, c);
    }
  }
  return out;
}

std::optional<std::string> fillCallTarget(const std::vector<config::TemplatePart>& parts,
                                          const RequestValues& request) {
  using Kind = config::TemplatePart::Kind;
  std::string out;
  for (const auto& part : parts) {
    switch (part.kind) {
      case Kind::Literal:
        out += part.text;
        break;
      case Kind::Query: {
        const std::string value = queryValue(request.query, part.text).value_or("");
        out += part.in_query ? encodeComponent(value) : encodeSegment(value);
        break;
      }
      case Kind::Header: {
        std::string_view value;
        if (request.header) value = request.header(part.text).value_or(std::string_view());
        out += part.in_query ? encodeComponent(value) : encodeSegment(value);
        break;
      }
      case Kind::Path:
        if (part.in_query) {
          out += encodeComponent(request.path);
        } else {
          std::string_view path = request.path;
          // "/v2/{path}" with "/users": one '/' between them, never "//" (an authority to some).
          if (!out.empty() && out.back() == '/' && !path.empty() && path.front() == '/') {
            path.remove_prefix(1);
          }
          out += encodePath(path);
        }
        break;
    }
    if (out.size() > kMaxTarget) return std::nullopt;
  }
  return out;
}

}  // namespace atrium::proxy::aggregate
