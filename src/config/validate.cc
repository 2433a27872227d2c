#include <algorithm>
#include <set>
#include <string_view>

#include "src/config/call_template.h"
#include "src/config/snapshot.h"

namespace atrium::config {

namespace {

bool isLowerHostname(const std::string& h) {
  for (char c : h) {
    if (c >= 'A' && c <= 'Z') return false;
  }
  return true;
}

bool validPathValue(const PathMatch& p) {
  if (p.type == PathType::RegularExpression) return !p.value.empty();
  return !p.value.empty() && p.value.front() == '/';
}

// A bucket that never refills, or holds nothing, would refuse every request of the route.
void checkRateLimit(const RateLimit& l, const std::string& where,
                    std::vector<std::string>& problems) {
  if (l.requests < 1) problems.push_back(where + ": requests must be at least 1");
  if (l.period_ms < 1) problems.push_back(where + ": period must be at least 1 ms");
  if (l.key == RateLimitKey::Header && l.header.empty()) {
    problems.push_back(where + ": key Header needs a header name");
  }
  for (char c : l.header) {
    if (c >= 'A' && c <= 'Z') {
      problems.push_back(where + ": header name is not lower-case");
      break;
    }
  }
}

bool hasUpper(const std::string& s) {
  for (char c : s) {
    if (c >= 'A' && c <= 'Z') return true;
  }
  return false;
}

bool hasLower(const std::string& s) {
  for (char c : s) {
    if (c >= 'a' && c <= 'z') return true;
  }
  return false;
}

// Lists the data plane looks names up in: sorted and unique, as the translator stores them, so
// equal sets compare equal (and a binary search finds them).
bool sortedUnique(const std::vector<std::string>& list) {
  for (size_t i = 1; i < list.size(); ++i) {
    if (!(list[i - 1] < list[i])) return false;
  }
  return true;
}

void checkCache(const CachePolicy& c, const std::string& where,
                std::vector<std::string>& problems) {
  if (c.methods.empty()) problems.push_back(where + ": cache without methods");
  for (const auto& m : c.methods) {
    if (m.empty() || hasLower(m)) {
      problems.push_back(where + ": cache method '" + m + "' is not an upper-case method");
    }
  }
  for (const auto& v : c.vary) {
    if (v.empty() || hasUpper(v)) {
      problems.push_back(where + ": cache vary header '" + v + "' is not a lower-case name");
    }
  }
  if (!sortedUnique(c.methods) || !sortedUnique(c.vary) || !sortedUnique(c.key_query_params)) {
    problems.push_back(where + ": cache lists must be sorted without duplicates");
  }
  if (c.key_whole_query && !c.key_query_params.empty()) {
    problems.push_back(where + ": cache key names query parameters and the whole query");
  }
  for (const auto& p : c.key_query_params) {
    if (p.empty()) problems.push_back(where + ": cache key query parameter without a name");
  }
}

// What the data plane echoes into Access-Control-* headers and compares origins against: the
// translator's normal form (cors_reader.h), so a hand-written snapshot cannot smuggle a CR/LF
// into a response header or hold an entry that could never match.
bool isToken(const std::string& s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (c <= 0x20 || c >= 0x7f ||
        std::string_view("\"(),/:;<=>?@[\\]{}").find(static_cast<char>(c)) !=
            std::string_view::npos) {
      return false;
    }
  }
  return true;
}

bool isCorsOrigin(const std::string& o) {
  if (o == "*") return true;
  const size_t sep = o.find("://");
  if (sep == std::string::npos) return false;
  const std::string scheme = o.substr(0, sep);
  if (scheme != "http" && scheme != "https") return false;
  const std::string rest = o.substr(sep + 3);
  if (rest.empty() || hasUpper(rest)) return false;
  for (char c : rest) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == ':' ||
          c == '[' || c == ']' || c == '*')) {
      return false;
    }
  }
  // A wildcard only as the whole first label.
  const size_t star = rest.find('*');
  return star == std::string::npos ||
         (rest.rfind("*.", 0) == 0 && rest.find('*', 1) == std::string::npos);
}

void checkCors(const CorsPolicy& c, const std::string& where, std::vector<std::string>& problems) {
  for (const auto& o : c.allow_origins) {
    if (!isCorsOrigin(o)) problems.push_back(where + ": cors origin '" + o + "' is malformed");
  }
  for (const auto& m : c.allow_methods) {
    if (m != "*" && (!isToken(m) || hasLower(m))) {
      problems.push_back(where + ": cors method '" + m + "' is not an upper-case method");
    }
  }
  for (const auto* list : {&c.allow_headers, &c.expose_headers}) {
    for (const auto& h : *list) {
      if (!isToken(h) || hasUpper(h)) {
        problems.push_back(where + ": cors header '" + h + "' is not a lower-case name");
      }
    }
  }
  if (!sortedUnique(c.allow_origins) || !sortedUnique(c.allow_methods) ||
      !sortedUnique(c.allow_headers) || !sortedUnique(c.expose_headers)) {
    problems.push_back(where + ": cors lists must be sorted without duplicates");
  }
  // Browsers refuse credentials for a wildcard origin; echoing every origin instead would let
  // any site read the API with its users' cookies.
  if (c.allow_credentials &&
      std::find(c.allow_origins.begin(), c.allow_origins.end(), "*") != c.allow_origins.end()) {
    problems.push_back(where + ": cors allows credentials for any origin");
  }
  if (c.max_age_s > 86400) problems.push_back(where + ": cors max age above 86400 s");
}

void checkAggregate(const Aggregate& a, const std::set<std::string>& clusters,
                    const std::string& where, std::vector<std::string>& problems) {
  if (a.calls.empty()) problems.push_back(where + ": aggregate without calls");
  if (a.max_call_body_bytes == 0) problems.push_back(where + ": aggregate call body bound of 0");
  std::set<std::string> names;
  for (const auto& call : a.calls) {
    const std::string at = where + ": aggregate call '" + call.name + "'";
    if (call.name.empty() || call.name == "_status" || !names.insert(call.name).second) {
      problems.push_back(at + ": name is empty, reserved or repeated");
    }
    std::vector<TemplatePart> parts;
    if (auto problem = parseCallTemplate(call.path, parts)) problems.push_back(at + ": path " + *problem);
    if (!isToken(call.method) || hasLower(call.method)) {
      problems.push_back(at + ": method is not an upper-case token");
    }
    if (!call.cluster.empty() && !clusters.count(call.cluster)) {
      problems.push_back(at + ": unknown cluster " + call.cluster);
    }
  }
}

void checkResilience(const Route& r, const std::string& where, std::vector<std::string>& problems) {
  if (r.retries) {
    if (r.retries->attempts > 10) problems.push_back(where + ": more than 10 retry attempts");
    for (size_t i = 1; i < r.retries->retry_on.size(); ++i) {
      if (!(r.retries->retry_on[i - 1] < r.retries->retry_on[i])) {
        problems.push_back(where + ": retry_on must be sorted without duplicates");
        break;
      }
    }
  }
  // A breaker that opens on failures must stay open for some time, or it never stops anything.
  if (r.circuit_breaker && r.circuit_breaker->consecutive_failures > 0 &&
      r.circuit_breaker->open_for_ms == 0) {
    problems.push_back(where + ": circuit breaker opens for 0 ms");
  }
  if (r.health_check) {
    const auto& h = *r.health_check;
    if (h.path.empty() || h.path.front() != '/') {
      problems.push_back(where + ": health check path '" + h.path + "' is not absolute");
    }
    // A check still running when the next one starts would pile up.
    if (h.interval_ms == 0 || h.timeout_ms == 0 || h.timeout_ms >= h.interval_ms) {
      problems.push_back(where + ": health check timeout must be above 0 and below the interval");
    }
    if (h.unhealthy_threshold < 1 || h.healthy_threshold < 1) {
      problems.push_back(where + ": health check thresholds must be at least 1");
    }
  }
  // The hash key means something only with ConsistentHash, and a Header/Cookie key needs its
  // name (a header's lower-case, as requests are looked up).
  const bool named = r.hash_on == HashOn::Header || r.hash_on == HashOn::Cookie;
  if (r.load_balancer != LoadBalancer::ConsistentHash &&
      (r.hash_on != HashOn::ClientIP || !r.hash_on_name.empty())) {
    problems.push_back(where + ": hash key without load balancer ConsistentHash");
  } else if (named && r.hash_on_name.empty()) {
    problems.push_back(where + ": hash key needs a name");
  } else if (!named && !r.hash_on_name.empty()) {
    problems.push_back(where + ": hash key ClientIP takes no name");
  } else if (r.hash_on == HashOn::Header && hasUpper(r.hash_on_name)) {
    problems.push_back(where + ": hash header name is not lower-case");
  }
  if (r.fallback && (r.fallback->status < 200 || r.fallback->status > 599)) {
    problems.push_back(where + ": fallback status out of range");
  }
}

// Same rule as the translator's isPriceDecimal (controller/translator/plan_reader.h, which the
// IR cannot include): 1 to 12 digits, optionally '.' and 1 to 6 digits, so bills in
// millionths never need rounding and fit 64 bits.
bool isPriceDecimal(const std::string& s) {
  auto digits = [](const std::string& t) {
    return !t.empty() && t.find_first_not_of("0123456789") == std::string::npos;
  };
  const size_t dot = s.find('.');
  if (!digits(s.substr(0, dot)) || s.substr(0, dot).size() > 12) return false;
  return dot == std::string::npos || (digits(s.substr(dot + 1)) && s.size() - dot - 1 <= 6);
}

void checkPlan(const Consumer& c, std::vector<std::string>& problems) {
  const std::string where = "consumer " + c.ns + "/" + c.name + ": plan";
  if (c.plan.rate_limit) {
    checkRateLimit(*c.plan.rate_limit, where + " rate limit", problems);
    if (c.plan.rate_limit->key != RateLimitKey::Consumer) {
      problems.push_back(where + " rate limit: key must be Consumer");
    }
  }
  if (c.plan.currency.empty() != c.plan.per_thousand_requests.empty()) {
    problems.push_back(where + ": pricing needs both a currency and a price");
  }
  if (!c.plan.currency.empty() &&
      (c.plan.currency.size() != 3 ||
       c.plan.currency.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ") != std::string::npos)) {
    problems.push_back(where + ": currency '" + c.plan.currency + "' is not an ISO 4217 code");
  }
  if (!c.plan.per_thousand_requests.empty() && !isPriceDecimal(c.plan.per_thousand_requests)) {
    problems.push_back(where + ": price '" + c.plan.per_thousand_requests +
                       "' is not a decimal (1-12 digits, optionally '.' and 1-6 digits)");
  }
}

}  // namespace

const Cluster* findCluster(const ConfigSnapshot& snapshot, const std::string& name) {
  for (const auto& c : snapshot.clusters) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

std::vector<std::string> validate(const ConfigSnapshot& snapshot) {
  std::vector<std::string> problems;
  std::set<std::string> clusters;
  for (const auto& c : snapshot.clusters) {
    if (!clusters.insert(c.name).second) problems.push_back("duplicate cluster " + c.name);
    for (const auto& e : c.endpoints) {
      if (e.address.empty() || e.port == 0) {
        problems.push_back("cluster " + c.name + ": endpoint without address or port");
      }
    }
  }
  std::set<std::string> hosts;
  for (const auto& vh : snapshot.virtual_hosts) {
    if (!hosts.insert(vh.hostname).second) {
      problems.push_back("duplicate virtual host '" + vh.hostname + "'");
    }
    if (!isLowerHostname(vh.hostname)) {
      problems.push_back("virtual host '" + vh.hostname + "' is not lower-case");
    }
    if (vh.hostname.find('*') != std::string::npos &&
        (vh.hostname.rfind("*.", 0) != 0 || vh.hostname.find('*', 1) != std::string::npos)) {
      problems.push_back("virtual host '" + vh.hostname + "': wildcard must be one leading label");
    }
    for (const auto& r : vh.routes) {
      const std::string where = "route " + r.name + " (host '" + vh.hostname + "')";
      for (const auto& m : r.matches) {
        if (!validPathValue(m.path)) problems.push_back(where + ": invalid path '" + m.path.value + "'");
      }
      int actions = (r.direct_response ? 1 : 0) + (r.redirect ? 1 : 0) +
                    (r.backends.empty() ? 0 : 1) + (r.aggregate ? 1 : 0);
      if (actions != 1) {
        problems.push_back(where +
                           ": needs exactly one of backends, direct_response, redirect, aggregate");
      }
      if (r.aggregate) checkAggregate(*r.aggregate, clusters, where, problems);
      for (const auto& b : r.backends) {
        if (!b.cluster.empty() && !clusters.count(b.cluster)) {
          problems.push_back(where + ": unknown cluster " + b.cluster);
        }
      }
      if (r.redirect && r.redirect->status_code / 100 != 3) {
        problems.push_back(where + ": redirect status must be 3xx");
      }
      if (r.direct_response &&
          (r.direct_response->status < 200 || r.direct_response->status > 599)) {
        problems.push_back(where + ": direct response status out of range");
      }
      if (r.rate_limit) {
        if (r.rate_limit->limits.empty()) problems.push_back(where + ": rate limit without limits");
        // Routes with one scope share buckets: an empty one would join unrelated routes.
        if (r.rate_limit->scope.empty()) problems.push_back(where + ": rate limit without scope");
        for (size_t i = 0; i < r.rate_limit->limits.size(); ++i) {
          checkRateLimit(r.rate_limit->limits[i], where + ": rate limit " + std::to_string(i),
                         problems);
        }
      }
      if (r.cache) checkCache(*r.cache, where, problems);
      if (r.cors) checkCors(*r.cors, where, problems);
      checkResilience(r, where, problems);
    }
  }
  std::set<std::string> certificates;
  for (const auto& c : snapshot.certificates) {
    if (!certificates.insert(c.name).second) problems.push_back("duplicate certificate " + c.name);
    if (c.chain_pem.empty() || c.key_pem.empty()) {
      problems.push_back("certificate " + c.name + ": chain or key missing");
    }
  }
  std::set<std::string> tls_hosts;
  for (const auto& h : snapshot.tls_hosts) {
    if (!tls_hosts.insert(h.hostname).second) {
      problems.push_back("duplicate TLS host '" + h.hostname + "'");
    }
    if (!h.certificate.empty() && !certificates.count(h.certificate)) {
      problems.push_back("TLS host '" + h.hostname + "': unknown certificate " + h.certificate);
    }
  }
  if (!snapshot.default_certificate.empty() && !certificates.count(snapshot.default_certificate)) {
    problems.push_back("unknown default certificate " + snapshot.default_certificate);
  }
  for (const auto& c : snapshot.consumers) checkPlan(c, problems);
  return problems;
}

}  // namespace atrium::config
