#include "proxy/http/path_normalizer.h"

#include "proxy/http/query_pairs.h"

namespace atrium::proxy::http {

namespace {

bool startsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    if (c != prefix[i]) return false;
  }
  return true;
}

bool isUnreserved(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

// Appends a segment to `out` while resolving "." and ".." (RFC 3986 §5.2.4). `out` holds
// "/seg1/seg2" without a trailing slash.
bool appendSegment(std::string& out, std::string_view seg) {
  if (seg == ".") return true;
  if (seg == "..") {
    if (out.empty()) return false;  // above the root
    out.resize(out.rfind('/'));
    return true;
  }
  out.push_back('/');
  out.append(seg);
  return true;
}

}  // namespace

const char* describe(PathError error) {
  switch (error) {
    case PathError::kNone:
      return "ok";
    case PathError::kNotOriginForm:
      return "request target must be an absolute path";
    case PathError::kBadEscape:
      return "malformed percent-encoding in path";
    case PathError::kEncodedSlash:
      return "encoded slash (%2F) in path";
    case PathError::kNullByte:
      return "encoded NUL (%00) in path";
    case PathError::kEscapesRoot:
      return "path escapes the root";
    case PathError::kBadCharacter:
      return "invalid character in path";
  }
  return "invalid path";
}

PathError normalizeTarget(std::string_view target, NormalizedTarget& out) {
  out.query = {};
  std::string_view path = target;
  // absolute-form ("http://host/path") is accepted as a proxy must (RFC 9112 §3.2.2); the
  // scheme is case-insensitive, and an empty path ("http://host?x") is "/".
  if (startsWithNoCase(target, "http://") || startsWithNoCase(target, "https://")) {
    auto start = target.find("://") + 3;
    auto end = target.find_first_of("/?#", start);
    path = end == std::string_view::npos ? std::string_view() : target.substr(end);
    if (!path.empty() && path.front() == '#') return PathError::kBadCharacter;
    if (path.empty() || path.front() == '?') {
      if (!path.empty()) out.query = path.substr(1);
      path = "/";
    }
  }
  if (path.empty() || path.front() != '/') return PathError::kNotOriginForm;
  if (auto q = path.find('?'); q != std::string_view::npos) {
    out.query = path.substr(q + 1);
    path = path.substr(0, q);
  }
  // The query is forwarded as received, so it gets the same byte checks as the path: a
  // fragment never belongs in a request, and control bytes could split the upstream request.
  for (unsigned char c : out.query) {
    if (c <= 0x20 || c == 0x7f || c == '#') return PathError::kBadCharacter;
  }
  out.path.clear();
  out.path.reserve(path.size());
  // Decode each segment first, then resolve dot segments: that is what makes "%2e%2e" count
  // as "..". Only the last segment decides whether a trailing slash stays.
  std::string seg;
  bool trailing_slash = false;
  size_t i = 1;
  while (true) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    std::string_view raw = path.substr(i, j - i);
    seg.clear();
    for (size_t k = 0; k < raw.size(); ++k) {
      unsigned char c = static_cast<unsigned char>(raw[k]);
      if (c == '%') {
        if (k + 2 >= raw.size()) return PathError::kBadEscape;
        int hi = hexDigitValue(raw[k + 1]);
        int lo = hexDigitValue(raw[k + 2]);
        if (hi < 0 || lo < 0) return PathError::kBadEscape;
        unsigned char decoded = static_cast<unsigned char>(hi * 16 + lo);
        if (decoded == '/') return PathError::kEncodedSlash;
        if (decoded == 0) return PathError::kNullByte;
        if (isUnreserved(decoded)) {
          seg.push_back(static_cast<char>(decoded));
        } else {
          static const char kHex[] = "0123456789ABCDEF";
          seg.push_back('%');
          seg.push_back(kHex[decoded >> 4]);
          seg.push_back(kHex[decoded & 15]);
        }
        k += 2;
        continue;
      }
      if (c <= 0x20 || c == 0x7f || c == '#' || c == '\\') return PathError::kBadCharacter;
      seg.push_back(static_cast<char>(c));
    }
    const bool last = j == path.size();
    if (!seg.empty() && !appendSegment(out.path, seg)) return PathError::kEscapesRoot;
    if (last) {
      trailing_slash = seg.empty() || seg == "." || seg == "..";
      break;
    }
    i = j + 1;
  }
  if (out.path.empty() || trailing_slash) out.path.push_back('/');
  return PathError::kNone;
}

}  // namespace atrium::proxy::http
