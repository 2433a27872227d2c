#include "proxy/router/route_table.h"

#include <re2/re2.h>

#include <algorithm>
#include <boost/url/parse_query.hpp>
#include <cctype>
#include <unordered_map>

namespace atrium::proxy::router {

namespace {

// Heterogeneous lookup so string_views from the request never allocate.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using StringMap = std::unordered_map<std::string, size_t, StringHash, std::equal_to<>>;

struct CompiledStringMatch {
  const config::StringMatch* spec = nullptr;
  std::string name;            // headers: lower-cased for HeaderSource::find
  std::unique_ptr<RE2> regex;  // set for RegularExpression matches

  bool matches(std::string_view value) const {
    if (!regex) return value == spec->value;
    return RE2::FullMatch(value, *regex);
  }
};

// One (route, match) pair placed in a path bucket.
struct Candidate {
  const config::Route* route = nullptr;
  const config::RouteMatch* match = nullptr;
  uint32_t route_id = 0;
  uint32_t match_index = 0;
  std::vector<CompiledStringMatch> headers;
  std::vector<CompiledStringMatch> query;
};

// Gateway API tie-breakers once the path is equal: a method match, then more header matches,
// then more query matches, then the older object, then list order.
bool precedes(const Candidate& a, const Candidate& b) {
  auto key = [](const Candidate& c) {
    return std::make_tuple(c.match->method.empty() ? 1 : 0, -static_cast<int>(c.headers.size()),
                           -static_cast<int>(c.query.size()), c.route->object_rank,
                           c.route->rule_index, c.match_index);
  };
  return key(a) < key(b);
}

std::optional<std::string_view> findQueryParam(std::string_view query, const std::string& name,
                                               std::string& scratch) {
  // Query names and values match case-sensitively after percent-decoding. Boost.URL 1.81's
  // params iterator scans for the end of the last parameter past the view's length (reading
  // into whatever follows the query in the request buffer, or crashing on an empty one), so it
  // is given a NUL-terminated copy. Only routes with query matches pay for it.
  const std::string terminated(query);
  auto params = boost::urls::parse_query(terminated);
  if (!params) return std::nullopt;
  for (auto p : *params) {
    if (p.key.decode() == name) {
      scratch = p.value.decode();
      return std::string_view(scratch);
    }
  }
  return std::nullopt;
}

bool conditionsHold(const Candidate& c, const RequestView& req) {
  if (!c.match->method.empty() && c.match->method != req.method) return false;
  for (const auto& h : c.headers) {
    auto value = req.headers ? req.headers->find(h.name) : std::nullopt;
    if (!value || !h.matches(*value)) return false;
  }
  if (!c.query.empty()) {
    std::string scratch;
    for (const auto& q : c.query) {
      auto value = findQueryParam(req.query, q.name, scratch);
      if (!value || !q.matches(*value)) return false;
    }
  }
  return true;
}

const Candidate* firstHolding(const std::vector<Candidate>& bucket, const RequestView& req) {
  for (const auto& c : bucket) {
    if (conditionsHold(c, req)) return &c;
  }
  return nullptr;
}

struct PrefixNode {
  StringMap child_index;
  std::vector<std::unique_ptr<PrefixNode>> children;
  std::vector<Candidate> candidates;

  PrefixNode* child(std::string_view segment) {
    auto it = child_index.find(segment);
    if (it != child_index.end()) return children[it->second].get();
    child_index.emplace(std::string(segment), children.size());
    children.push_back(std::make_unique<PrefixNode>());
    return children.back().get();
  }
  const PrefixNode* find(std::string_view segment) const {
    auto it = child_index.find(segment);
    return it == child_index.end() ? nullptr : children[it->second].get();
  }
};

struct RegexBucket {
  std::unique_ptr<RE2> regex;
  std::vector<Candidate> candidates;  // a single candidate; kept as a bucket for uniformity
};

// Calls fn(segment) for every non-empty '/'-separated segment: "/a//b/" → "a", "b".
template <typename Fn>
void forEachSegment(std::string_view path, Fn&& fn) {
  size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (j > i && !fn(path.substr(i, j - i))) return;
    i = j;
  }
}

}  // namespace

struct HostTable {
  std::unordered_map<std::string, std::vector<Candidate>, StringHash, std::equal_to<>> exact;
  PrefixNode prefix_root;
  std::vector<RegexBucket> regexes;
  std::vector<Candidate> defaults;

  RouteHit match(const RequestView& req) const {
    auto hit = [](const Candidate* c) {
      return c ? RouteHit{c->route, c->match, c->route_id} : RouteHit{};
    };
    if (!exact.empty()) {
      auto it = exact.find(req.path);
      if (it != exact.end()) {
        if (auto* c = firstHolding(it->second, req)) return hit(c);
      }
    }
    // Walk the trie along the request's segments, remembering each node on the way, then try
    // the deepest (longest prefix) first.
    const PrefixNode* stack[64];
    size_t depth = 0;
    stack[depth++] = &prefix_root;
    forEachSegment(req.path, [&](std::string_view seg) {
      const PrefixNode* next = stack[depth - 1]->find(seg);
      if (!next || depth == std::size(stack)) return false;
      stack[depth++] = next;
      return true;
    });
    while (depth > 0) {
      const PrefixNode* node = stack[--depth];
      if (!node->candidates.empty()) {
        if (auto* c = firstHolding(node->candidates, req)) return hit(c);
      }
    }
    for (const auto& r : regexes) {
      if (RE2::FullMatch(req.path, *r.regex)) {
        if (auto* c = firstHolding(r.candidates, req)) return hit(c);
      }
    }
    return hit(firstHolding(defaults, req));
  }

  void sortAll() {
    for (auto& [path, bucket] : exact) std::stable_sort(bucket.begin(), bucket.end(), precedes);
    sortTrie(prefix_root);
    std::stable_sort(regexes.begin(), regexes.end(),
                     [](const RegexBucket& a, const RegexBucket& b) {
                       return precedes(a.candidates.front(), b.candidates.front());
                     });
    std::stable_sort(defaults.begin(), defaults.end(), precedes);
  }

  static void sortTrie(PrefixNode& node) {
    std::stable_sort(node.candidates.begin(), node.candidates.end(), precedes);
    for (auto& child : node.children) sortTrie(*child);
  }
};

struct RouteTable::Impl {
  std::unordered_map<std::string, HostTable, StringHash, std::equal_to<>> exact_hosts;
  // "*.example.com" is stored under "example.com": the request host minus its first label.
  std::unordered_map<std::string, HostTable, StringHash, std::equal_to<>> wildcard_hosts;
  std::unique_ptr<HostTable> any_host;
};

RouteTable::RouteTable() : impl_(std::make_unique<Impl>()) {}
RouteTable::~RouteTable() = default;

namespace {

bool compileStringMatches(const std::vector<config::StringMatch>& specs, bool lower_case_name,
                          std::vector<CompiledStringMatch>& out, std::string& error) {
  for (const auto& s : specs) {
    CompiledStringMatch m;
    m.spec = &s;
    m.name = s.name;
    if (lower_case_name) {
      // HeaderSource lookups take lower-case names; a snapshot that was not built by the
      // translator (decoded from JSON, written by hand) must still match case-insensitively.
      for (auto& c : m.name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    if (s.type == config::StringMatchType::RegularExpression) {
      m.regex = std::make_unique<RE2>(s.value, RE2::Quiet);
      if (!m.regex->ok()) {
        error = "invalid regular expression '" + s.value + "': " + m.regex->error();
        return false;
      }
    }
    out.push_back(std::move(m));
  }
  return true;
}

void addCandidate(HostTable& table, Candidate candidate, std::vector<std::string>* errors) {
  const auto& path = candidate.match->path;
  if (candidate.route->is_default_backend) {
    table.defaults.push_back(std::move(candidate));
    return;
  }
  switch (path.type) {
    case config::PathType::Exact:
      table.exact[path.value].push_back(std::move(candidate));
      break;
    case config::PathType::Prefix: {
      PrefixNode* node = &table.prefix_root;
      forEachSegment(path.value, [&](std::string_view seg) {
        node = node->child(seg);
        return true;
      });
      node->candidates.push_back(std::move(candidate));
      break;
    }
    case config::PathType::RegularExpression: {
      RegexBucket bucket;
      bucket.regex = std::make_unique<RE2>(path.value, RE2::Quiet);
      if (!bucket.regex->ok()) {
        if (errors) {
          errors->push_back("route " + candidate.route->name + ": invalid path regex '" +
                            path.value + "': " + bucket.regex->error());
        }
        return;
      }
      bucket.candidates.push_back(std::move(candidate));
      table.regexes.push_back(std::move(bucket));
      break;
    }
  }
}

}  // namespace

std::shared_ptr<const RouteTable> RouteTable::build(const config::ConfigSnapshot& snapshot,
                                                    std::vector<std::string>* errors) {
  std::shared_ptr<RouteTable> table(new RouteTable());
  auto& impl = *table->impl_;
  for (const auto& vh : snapshot.virtual_hosts) {
    HostTable* host;
    if (vh.hostname.empty()) {
      if (!impl.any_host) impl.any_host = std::make_unique<HostTable>();
      host = impl.any_host.get();
    } else if (vh.hostname.rfind("*.", 0) == 0) {
      host = &impl.wildcard_hosts[vh.hostname.substr(2)];
    } else {
      host = &impl.exact_hosts[vh.hostname];
    }
    for (const auto& route : vh.routes) {
      const auto route_id = static_cast<uint32_t>(table->routes_.size());
      table->routes_.push_back(&route);
      static const config::RouteMatch kMatchAll;
      const bool match_all = route.matches.empty();
      const size_t n = match_all ? 1 : route.matches.size();
      for (size_t i = 0; i < n; ++i) {
        Candidate c;
        c.route = &route;
        c.match = match_all ? &kMatchAll : &route.matches[i];
        c.route_id = route_id;
        c.match_index = static_cast<uint32_t>(i);
        std::string error;
        if (!compileStringMatches(c.match->headers, true, c.headers, error) ||
            !compileStringMatches(c.match->query_params, false, c.query, error)) {
          if (errors) errors->push_back("route " + route.name + ": " + error);
          continue;
        }
        addCandidate(*host, std::move(c), errors);
      }
    }
  }
  for (auto& [name, host] : impl.exact_hosts) host.sortAll();
  for (auto& [name, host] : impl.wildcard_hosts) host.sortAll();
  if (impl.any_host) impl.any_host->sortAll();
  return table;
}

std::string_view RouteTable::canonicalHost(std::string_view host, char* buf, size_t buf_size) {
  // Strip the port: "[::1]:8080" keeps "[::1]", "a.com:80" keeps "a.com".
  if (!host.empty() && host.front() == '[') {
    auto close = host.find(']');
    if (close != std::string_view::npos) host = host.substr(0, close + 1);
  } else if (auto colon = host.rfind(':'); colon != std::string_view::npos) {
    host = host.substr(0, colon);
  }
  // A fully qualified name may end with a dot ("a.com."): it names the same host.
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  if (host.size() > buf_size) return {};
  for (size_t i = 0; i < host.size(); ++i) {
    char c = host[i];
    buf[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
  }
  return {buf, host.size()};
}

RouteHit RouteTable::match(const RequestView& request) const {
  char buf[256];
  std::string_view host = canonicalHost(request.host, buf, sizeof(buf));
  const HostTable* table = nullptr;
  if (!host.empty()) {
    if (auto it = impl_->exact_hosts.find(host); it != impl_->exact_hosts.end()) {
      table = &it->second;
    } else if (auto dot = host.find('.');
               dot != std::string_view::npos && dot > 0 && !impl_->wildcard_hosts.empty()) {
      // "*.foo.com" stands for exactly one non-empty label: ".foo.com" is not "x.foo.com".
      if (auto w = impl_->wildcard_hosts.find(host.substr(dot + 1));
          w != impl_->wildcard_hosts.end()) {
        table = &w->second;
      }
    }
  }
  if (!table) table = impl_->any_host.get();
  if (!table) return {};
  return table->match(request);
}

}  // namespace atrium::proxy::router
