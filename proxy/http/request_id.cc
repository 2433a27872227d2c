#include "proxy/http/request_id.h"

#include <cstdint>
#include <random>

namespace atrium::proxy::http {

namespace {

// xoshiro-like generator seeded from random_device once per thread: ids must be unique, not
// secret, so a fast PRNG is right here.
uint64_t next64() {
  thread_local uint64_t s0 = [] {
    std::random_device rd;
    return (static_cast<uint64_t>(rd()) << 32) ^ rd() ^ 0x9E3779B97F4A7C15ull;
  }();
  thread_local uint64_t s1 = [] {
    std::random_device rd;
    return (static_cast<uint64_t>(rd()) << 32) ^ rd();
  }();
  uint64_t x = s0;
  const uint64_t y = s1;
  s0 = y;
  x ^= x << 23;
  s1 = x ^ y ^ (x >> 17) ^ (y >> 26);
  return s1 + y;
}

void appendHex(std::string& out, uint64_t v, int nibbles) {
  static const char kHex[] = "0123456789abcdef";
  for (int i = nibbles - 1; i >= 0; --i) out.push_back(kHex[(v >> (i * 4)) & 15]);
}

bool isLowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

std::string newRequestId() {
  uint64_t a = next64(), b = next64();
  a = (a & 0xFFFFFFFFFFFF0FFFull) | 0x0000000000004000ull;  // version 4
  b = (b & 0x3FFFFFFFFFFFFFFFull) | 0x8000000000000000ull;  // RFC 4122 variant
  std::string id;
  id.reserve(36);
  appendHex(id, a >> 32, 8);
  id.push_back('-');
  appendHex(id, (a >> 16) & 0xFFFF, 4);
  id.push_back('-');
  appendHex(id, a & 0xFFFF, 4);
  id.push_back('-');
  appendHex(id, b >> 48, 4);
  id.push_back('-');
  appendHex(id, b & 0xFFFFFFFFFFFFull, 12);
  return id;
}

bool isAcceptableRequestId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (unsigned char c : id) {
    if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\') return false;
  }
  return true;
}

std::string nextTraceparent(std::string_view incoming) {
  // W3C Trace Context §3.2: version (2 hex, never "ff") - trace-id (32 hex, not all zero) -
  // parent-id (16 hex, not all zero) - flags (2 hex). Version 00 is exactly 55 characters; a
  // later version is read with the 00 layout and may carry more fields after a '-'. What goes
  // upstream is always version 00.
  const std::string_view version = incoming.substr(0, 2);
  bool valid = incoming.size() >= 55 && isLowerHex(version) && version != "ff" &&
               incoming[2] == '-' && incoming[35] == '-' && incoming[52] == '-' &&
               isLowerHex(incoming.substr(3, 32)) && isLowerHex(incoming.substr(36, 16)) &&
               isLowerHex(incoming.substr(53, 2)) &&
               incoming.substr(3, 32) != std::string_view("00000000000000000000000000000000") &&
               incoming.substr(36, 16) != std::string_view("0000000000000000");
  if (valid && incoming.size() > 55) valid = version != "00" && incoming[55] == '-';
  std::string out;
  out.reserve(55);
  out += "00-";
  if (valid) {
    out += incoming.substr(3, 32);
  } else {
    appendHex(out, next64(), 16);
    appendHex(out, next64() | 1, 16);  // never the invalid all-zero trace id
  }
  out.push_back('-');
  appendHex(out, next64() | 1, 16);  // a non-zero span id
  out.push_back('-');
  out += valid ? incoming.substr(53, 2) : std::string_view("01");
  return out;
}

}  // namespace atrium::proxy::http
