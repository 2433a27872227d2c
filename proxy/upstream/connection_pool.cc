#include "proxy/upstream/connection_pool.h"

#include <sys/socket.h>

namespace atrium::proxy::upstream {

namespace {

// A peer that closed an idle keep-alive connection leaves it readable at EOF. Checking costs
// one syscall, so it is done only for connections idle long enough for that to be likely.
bool stillOpen(UpstreamConnection& conn) {
  auto& socket = conn.stream.socket();
  if (!socket.is_open()) return false;
  char byte;
  ssize_t n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n == 0) return false;                      // orderly close
  if (n > 0) return false;                       // unsolicited bytes: the stream is out of sync
  return errno == EAGAIN || errno == EWOULDBLOCK;  // nothing to read: alive
}

}  // namespace

std::unique_ptr<UpstreamConnection> ConnectionPool::take(const std::string& key) {
  auto it = idle_.find(key);
  if (it == idle_.end()) return nullptr;
  auto& list = it->second;
  const auto now = std::chrono::steady_clock::now();
  while (!list.empty()) {
    auto conn = std::move(list.back());
    list.pop_back();
    const auto idle = now - conn->idle_since;
    if (idle > kMaxIdle) continue;  // closed by its destructor
    if (idle > std::chrono::seconds(1) && !stillOpen(*conn)) continue;
    return conn;
  }
  return nullptr;
}

void ConnectionPool::give(std::unique_ptr<UpstreamConnection> conn) {
  auto& list = idle_[conn->key];
  if (list.size() >= kMaxIdlePerEndpoint) return;
  conn->idle_since = std::chrono::steady_clock::now();
  list.push_back(std::move(conn));
}

}  // namespace atrium::proxy::upstream
