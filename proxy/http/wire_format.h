#pragma once
// Writes HTTP/1.1 message heads into one contiguous buffer. Beast's serializer presents a head
// as one buffer per field (dozens of iovecs per write, walked through nested buffer-sequence
// iterators); formatting the head into a reused string and writing it with the first body
// piece in a single gather-write is markedly cheaper on the proxy's hot path. Framing of the
// body (Content-Length or chunked) is decided by the caller from the message's fields.
#include <cstddef>
#include <string>
#include <string_view>

namespace atrium::proxy::http {

// Every field as "Name: value\r\n", then the blank line that ends the head. `Fields` is a Beast
// basic_fields.
template <class Fields>
void appendFields(std::string& out, const Fields& fields) {
  for (const auto& f : fields) {
    out.append(f.name_string());
    out.append(": ");
    out.append(f.value());
    out.append("\r\n");
  }
  out.append("\r\n");
}

// "METHOD target HTTP/1.1\r\n" + the fields.
template <class Fields>
void appendRequestHead(std::string& out, std::string_view method, std::string_view target,
                       const Fields& fields) {
  out.append(method);
  out.push_back(' ');
  out.append(target);
  out.append(" HTTP/1.1\r\n");
  appendFields(out, fields);
}

// "HTTP/1.1 <status> <reason>\r\n" + the fields.
template <class Fields>
void appendResponseHead(std::string& out, unsigned status, std::string_view reason,
                        const Fields& fields) {
  out.append("HTTP/1.1 ");
  char code[4] = {static_cast<char>('0' + status / 100 % 10),
                  static_cast<char>('0' + status / 10 % 10), static_cast<char>('0' + status % 10), 0};
  out.append(code, 3);
  out.push_back(' ');
  out.append(reason);
  out.append("\r\n");
  appendFields(out, fields);
}

// The size line that starts a chunk: "<hex size>\r\n".
inline void appendChunkSize(std::string& out, size_t size) {
  static const char kHex[] = "0123456789abcdef";
  char buf[20];
  int n = 0;
  do {
    buf[n++] = kHex[size & 15];
    size >>= 4;
  } while (size != 0);
  while (n > 0) out.push_back(buf[--n]);
  out.append("\r\n");
}

inline constexpr std::string_view kCrlf = "\r\n";
inline constexpr std::string_view kLastChunk = "0\r\n\r\n";

}  // namespace atrium::proxy::http
