#include "controller/translator/backend_resolver.h"

#include <algorithm>

#include "controller/translator/certificates.h"

namespace atrium::controller::translator {

namespace {

// "#https" and, when they differ from the defaults, the verification settings (the CA by
// digest) so that each combination is its own cluster.
std::string tlsSuffix(const UpstreamTls& tls) {
  if (!tls.enabled) return "";
  std::string s = "#https";
  if (tls.verify) s += "+verify";
  if (!tls.ca_pem.empty()) s += "+ca=" + sha256Hex(tls.ca_pem).substr(0, 16);
  if (!tls.server_name.empty()) s += "+sni=" + tls.server_name;
  return s;
}

void applyTls(config::Cluster& cluster, const UpstreamTls& tls) {
  cluster.tls = tls.enabled;
  cluster.tls_verify = tls.enabled && tls.verify;
  cluster.tls_ca_pem = tls.enabled ? tls.ca_pem : "";
  cluster.tls_server_name = tls.enabled ? tls.server_name : "";
}

const nlohmann::json& field(const nlohmann::json& j, const char* key) {
  static const nlohmann::json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

std::string stringField(const nlohmann::json& j, const char* key) {
  const auto& v = field(j, key);
  return v.is_string() ? v.get<std::string>() : std::string();
}

bool boolCondition(const nlohmann::json& conditions, const char* key, bool if_absent) {
  const auto& v = field(conditions, key);
  return v.is_boolean() ? v.get<bool>() : if_absent;
}

}  // namespace

BackendResolver::BackendResolver(const ObjectStore& objects) : objects_(objects) {
  for (const auto& [key, slice] : objects.all("EndpointSlice")) {
    auto svc =
        stringField(field(field(slice.body, "metadata"), "labels"), "kubernetes.io/service-name");
    if (!svc.empty()) slices_by_service_.emplace(slice.ns + "/" + svc, &slice);
  }
}

config::WeightedBackend BackendResolver::service(const std::string& ns, const std::string& name,
                                                 const ServicePortRef& port, uint32_t weight,
                                                 const UpstreamTls& tls) {
  std::string key = ns;
  key += '/';
  key += name;
  key += std::holds_alternative<int64_t>(port.port) ? ":#" + std::to_string(std::get<int64_t>(port.port))
                                                    : ":" + std::get<std::string>(port.port);
  key += tlsSuffix(tls);
  auto it = resolved_.find(key);
  if (it == resolved_.end()) it = resolved_.emplace(std::move(key), resolve(ns, name, port, tls)).first;
  config::WeightedBackend backend = it->second;
  backend.weight = weight;
  return backend;
}

config::WeightedBackend BackendResolver::resolve(const std::string& ns, const std::string& name,
                                                 const ServicePortRef& port,
                                                 const UpstreamTls& tls) {
  config::WeightedBackend backend;
  const KubeObject* svc = objects_.find("Service", ns, name);
  const std::string port_text = std::holds_alternative<int64_t>(port.port)
                                    ? std::to_string(std::get<int64_t>(port.port))
                                    : std::get<std::string>(port.port);
  if (!svc) {
    backend.unresolved_reason = "Service " + ns + "/" + name + " not found";
    return backend;
  }
  const auto& spec = field(svc->body, "spec");
  // Find the Service port the reference names.
  const nlohmann::json* svc_port = nullptr;
  const auto& ports = field(spec, "ports");
  if (ports.is_array()) {
    for (const auto& p : ports) {
      bool hit = std::holds_alternative<int64_t>(port.port)
                     ? field(p, "port").is_number_integer() &&
                           field(p, "port").get<int64_t>() == std::get<int64_t>(port.port)
                     : stringField(p, "name") == std::get<std::string>(port.port);
      if (hit) {
        svc_port = &p;
        break;
      }
    }
  }
  const bool external = stringField(spec, "type") == "ExternalName";
  if (!svc_port && !(external && std::holds_alternative<int64_t>(port.port))) {
    backend.unresolved_reason = "Service " + ns + "/" + name + " has no port " + port_text;
    return backend;
  }
  // A malformed Service (the API server would have refused it, a manifest file may not) makes
  // this backend unresolved; it must not stop the translation of everything else.
  const auto& declared =
      svc_port ? field(*svc_port, "port") : nlohmann::json(std::get<int64_t>(port.port));
  if (!declared.is_number_integer() || declared.get<int64_t>() < 1 ||
      declared.get<int64_t>() > 65535) {
    backend.unresolved_reason =
        "Service " + ns + "/" + name + " port " + port_text + " has no valid port number";
    return backend;
  }
  const int64_t number = declared.get<int64_t>();
  const std::string cluster_name = ns + "/" + name + ":" + std::to_string(number) + tlsSuffix(tls);
  backend.cluster = cluster_name;
  if (clusters_.count(cluster_name)) return backend;

  config::Cluster cluster;
  cluster.name = cluster_name;
  applyTls(cluster, tls);
  if (external) {
    // Like ingress-nginx: a numeric targetPort is where the external name listens; without
    // one, the Service port itself.
    int64_t connect_port = number;
    if (svc_port) {
      const auto& target = field(*svc_port, "targetPort");
      if (target.is_number_integer() && target.get<int64_t>() >= 1 &&
          target.get<int64_t>() <= 65535) {
        connect_port = target.get<int64_t>();
      }
    }
    auto host = stringField(spec, "externalName");
    if (!host.empty()) cluster.endpoints.push_back({host, static_cast<uint16_t>(connect_port)});
    clusters_.emplace(cluster_name, std::move(cluster));
    return backend;
  }
  const std::string port_name = svc_port ? stringField(*svc_port, "name") : "";
  std::vector<config::Endpoint> ready, serving;
  auto range = slices_by_service_.equal_range(ns + "/" + name);
  for (auto it = range.first; it != range.second; ++it) {
    const auto& body = it->second->body;
    // The slice port with the Service port's name ("" for an unnamed single port).
    int64_t target = -1;
    const auto& slice_ports = field(body, "ports");
    if (slice_ports.is_array()) {
      for (const auto& sp : slice_ports) {
        if (stringField(sp, "name") == port_name && field(sp, "port").is_number_integer()) {
          target = field(sp, "port").get<int64_t>();
        }
      }
    }
    if (target <= 0 || target > 65535) continue;
    const auto& endpoints = field(body, "endpoints");
    if (!endpoints.is_array()) continue;
    for (const auto& ep : endpoints) {
      const auto& conditions = field(ep, "conditions");
      // Per the EndpointSlice API, a nil `ready` means ready; `serving` defaults to `ready`.
      bool is_ready = boolCondition(conditions, "ready", true);
      bool is_serving = boolCondition(conditions, "serving", is_ready);
      bool terminating = boolCondition(conditions, "terminating", false);
      const auto& addresses = field(ep, "addresses");
      if (!addresses.is_array()) continue;
      for (const auto& a : addresses) {
        if (!a.is_string()) continue;
        config::Endpoint e{a.get<std::string>(), static_cast<uint16_t>(target)};
        if (is_ready) {
          ready.push_back(e);
        } else if (is_serving && !terminating) {
          serving.push_back(e);
        }
      }
    }
  }
  cluster.endpoints = ready.empty() ? std::move(serving) : std::move(ready);
  auto by_address = [](const config::Endpoint& a, const config::Endpoint& b) {
    return std::tie(a.address, a.port) < std::tie(b.address, b.port);
  };
  std::sort(cluster.endpoints.begin(), cluster.endpoints.end(), by_address);
  cluster.endpoints.erase(std::unique(cluster.endpoints.begin(), cluster.endpoints.end()),
                          cluster.endpoints.end());
  clusters_.emplace(cluster_name, std::move(cluster));
  return backend;
}

config::WeightedBackend BackendResolver::url(const std::string& url, uint32_t weight,
                                             const std::optional<UpstreamTls>& tls_options) {
  config::WeightedBackend backend;
  backend.weight = weight;
  bool tls = url.rfind("https://", 0) == 0;
  UpstreamTls upstream_tls = tls_options.value_or(UpstreamTls{tls, tls, "", ""});
  if (!tls && url.rfind("http://", 0) != 0) {
    backend.unresolved_reason = "url must start with http:// or https://";
    return backend;
  }
  std::string authority = url.substr(tls ? 8 : 7);
  if (!authority.empty() && authority.back() == '/') authority.pop_back();
  if (authority.empty() || authority.find_first_of("/?#@ ") != std::string::npos) {
    backend.unresolved_reason = "url must be scheme://host[:port] without path or credentials";
    return backend;
  }
  std::string host = authority;
  uint16_t port = tls ? 443 : 80;
  size_t colon = authority.rfind(':');
  if (colon != std::string::npos && authority.find(']', colon) == std::string::npos) {
    host = authority.substr(0, colon);
    const std::string digits = authority.substr(colon + 1);
    // Digits only: stoi would take "80abc" as 80.
    const bool numeric = !digits.empty() && digits.size() <= 5 &&
                         digits.find_first_not_of("0123456789") == std::string::npos;
    const int p = numeric ? std::stoi(digits) : 0;
    if (p <= 0 || p > 65535) {
      backend.unresolved_reason = "url has an invalid port";
      return backend;
    }
    port = static_cast<uint16_t>(p);
  }
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) {
    backend.unresolved_reason = "url has no host";
    return backend;
  }
  std::string name =
      std::string("url:") + (tls ? "https://" : "http://") + authority + tlsSuffix(upstream_tls);
  backend.cluster = name;
  if (!clusters_.count(name)) {
    config::Cluster cluster;
    cluster.name = name;
    cluster.endpoints = {{host, port}};
    applyTls(cluster, upstream_tls);
    clusters_.emplace(name, std::move(cluster));
  }
  return backend;
}

std::vector<config::Cluster> BackendResolver::takeClusters() {
  std::vector<config::Cluster> out;
  out.reserve(clusters_.size());
  for (auto& [name, cluster] : clusters_) out.push_back(std::move(cluster));
  clusters_.clear();
  return out;
}

}  // namespace atrium::controller::translator
