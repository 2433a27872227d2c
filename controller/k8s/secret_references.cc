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

}  // namespace

std::set<std::string> referencedSecrets(const ObjectStore& objects,
                                        const std::string& default_tls_secret) {
  std::set<std::string> out;
  if (!default_tls_secret.empty()) out.insert(default_tls_secret);
  for (const char* kind : {"Ingress", "APIRoute", "APIConsumer"}) {
    for (const auto& [key, object] : objects.all(kind)) {
      auto spec = object.body.find("spec");
      if (spec != object.body.end()) collect(*spec, object.ns, out);
    }
  }
  return out;
}

}  // namespace atrium::controller::k8s
