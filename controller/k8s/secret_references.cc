#include "controller/k8s/secret_references.h"

namespace atrium::controller::k8s {

namespace {

bool endsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void collect(const nlohmann::json& node, const std::string& ns, std::set<std::string>& out) {
  if (node.is_array()) {
    for (const auto& item : node) collect(item, ns, out);
    return;
  }
  if (!node.is_object()) return;
  for (const auto& [key, value] : node.items()) {
    if (key == "secretName" && value.is_string() && !value.get<std::string>().empty()) {
      out.insert(ns + "/" + value.get<std::string>());
    } else if ((key == "secretRef" || endsWith(key, "SecretRef")) && value.is_object() &&
               value.contains("name") && value["name"].is_string()) {
      out.insert(ns + "/" + value["name"].get<std::string>());
    } else {
      collect(value, ns, out);
    }
  }
}

// An Ingress's basic-auth Secret (auth-secret: "name" or "namespace/name"), under either
// prefix. Only the Ingress's own namespace counts: the translator refuses any other.
void collectAuthSecret(const KubeObject& ingress, std::set<std::string>& out) {
  auto metadata = ingress.body.find("metadata");
  if (metadata == ingress.body.end() || !metadata->is_object()) return;
  auto annotations = metadata->find("annotations");
  if (annotations == metadata->end() || !annotations->is_object()) return;
  for (const char* key : {"nginx.ingress.kubernetes.io/auth-secret", "atrium.dev/auth-secret"}) {
    auto it = annotations->find(key);
    if (it == annotations->end() || !it->is_string()) continue;
    std::string name = it->get<std::string>();
    if (const auto slash = name.find('/'); slash != std::string::npos) {
      if (name.substr(0, slash) != ingress.ns) continue;
      name = name.substr(slash + 1);
    }
    if (!name.empty()) out.insert(ingress.ns + "/" + name);
  }
}

}  // namespace

std::set<std::string> referencedSecrets(const ObjectStore& objects,
                                        const std::string& default_tls_secret) {
  std::set<std::string> out;
  if (!default_tls_secret.empty()) out.insert(default_tls_secret);
  for (const char* kind : {"Ingress", "APIRoute", "APIConsumer"}) {
    for (const auto& [key, object] : objects.all(kind)) {
      auto spec = object.body.find("spec");
      if (spec != object.body.end()) collect(*spec, object.ns, out);
      if (std::string_view(kind) == "Ingress") collectAuthSecret(object, out);
    }
  }
  return out;
}

}  // namespace atrium::controller::k8s
