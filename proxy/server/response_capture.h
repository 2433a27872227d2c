#pragma once
// A copy of an upstream response taken while it is relayed to the client, for the response
// cache: the status line, the end-to-end header fields and the body, up to the route's
// maxObjectSize. Relaying never waits for it; a body that grows too large just stops being
// copied.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace atrium::proxy::server {

struct ResponseCapture {
  uint64_t max_body = 0;
  bool active = false;    // still copying
  bool complete = false;  // the whole response was relayed and copied
  // A stale entry may stand in: a 500/502/503/504 from the upstream is then not relayed
  // (RFC 5861 stale-if-error) and forward() reports a failure instead.
  bool stale_available = false;
  int status = 0;
  std::string reason;
  std::vector<std::pair<std::string, std::string>> headers;  // hop-by-hop and framing removed
  std::string body;
};

}  // namespace atrium::proxy::server
