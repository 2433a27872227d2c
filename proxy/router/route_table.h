#pragma once
// The compiled route table: built once per snapshot off the hot path, then read-only and shared
// by every worker. Lookup never scans all routes:
//   host:  exact-name hash map → one-label wildcard map → hostless table (no fall-through
//          between them once a host table is chosen, as ingress-nginx server blocks behave)
//   path:  exact-path hash map → segment trie for prefixes (deepest first) → regexes in
//          precedence order → the Ingress defaultBackend of that host.
// Each path bucket holds its candidates pre-sorted by the remaining precedence rules
// (method, header count, query count, object age, list order), so the first candidate whose
// conditions hold wins.
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/config/snapshot.h"

namespace atrium::proxy::router {

// Read access to request headers for header matches. Names are passed lower-case.
class HeaderSource {
 public:
  virtual ~HeaderSource() = default;
  virtual std::optional<std::string_view> find(std::string_view lower_name) const = 0;
};

struct RequestView {
  std::string_view host;    // Host header as received (port and case are handled here)
  std::string_view path;    // normalised path, without query
  std::string_view query;   // raw query string without '?', may be empty
  std::string_view method;  // "GET"
  const HeaderSource* headers = nullptr;
};

// What a lookup found: the route (IR owned by the table) and the match that selected it.
struct RouteHit {
  const config::Route* route = nullptr;
  const config::RouteMatch* match = nullptr;
  uint32_t route_id = 0;  // index of the route in routes() — lets callers keep per-route state
  explicit operator bool() const { return route != nullptr; }
};

class RouteTable {
 public:
  // Compiles the snapshot. Regexes that RE2 rejects are skipped and described in `errors`
  // (the translator has normally reported them already).
  static std::shared_ptr<const RouteTable> build(const config::ConfigSnapshot& snapshot,
                                                 std::vector<std::string>* errors = nullptr);
  ~RouteTable();

  RouteHit match(const RequestView& request) const;

  // Every route of the table, indexed by RouteHit::route_id.
  const std::vector<const config::Route*>& routes() const { return routes_; }

  // Lower-cases `host` and strips a port (IPv6 literals keep their brackets). Exposed for tests.
  static std::string_view canonicalHost(std::string_view host, char* buf, size_t buf_size);

  struct Impl;

 private:
  RouteTable();
  std::unique_ptr<Impl> impl_;
  std::vector<const config::Route*> routes_;
};

}  // namespace atrium::proxy::router
