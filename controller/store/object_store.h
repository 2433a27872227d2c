#pragma once
// Typed stores of Kubernetes objects, keyed kind → "namespace/name". Filled by either source
// (manifest files or the API server's list/watch) and read by the translator. Objects are kept
// as JSON exactly as the API would return them (YAML manifests are converted first), so both
// sources produce identical inputs. Not thread-safe: owned by the control-plane thread.
#include <map>
#include <nlohmann/json.hpp>
#include <string>

namespace atrium::controller {

struct KubeObject {
  std::string kind;         // "Ingress", "APIRoute", ...
  std::string api_version;  // "networking.k8s.io/v1"
  std::string ns;           // "" for cluster-scoped kinds (IngressClass)
  std::string name;
  std::string source;       // manifest path, or "" for objects from the API server
  nlohmann::json body;      // the whole object; metadata.namespace filled in when defaulted

  std::string key() const { return ns.empty() ? name : ns + "/" + name; }
  std::string displayName() const { return kind + " " + key(); }
};

class ObjectStore {
 public:
  using Bucket = std::map<std::string, KubeObject>;  // "ns/name" → object, sorted

  // Inserts or replaces; returns false when an object with that key was already present.
  bool upsert(KubeObject object);
  bool erase(const std::string& kind, const std::string& key);
  void clearKind(const std::string& kind);

  const KubeObject* find(const std::string& kind, const std::string& ns,
                         const std::string& name) const;
  const Bucket& all(const std::string& kind) const;
  size_t size() const;

  bool operator==(const ObjectStore& other) const;

 private:
  std::map<std::string, Bucket> kinds_;
};

// Kinds whose objects are namespaced; everything Atrium reads except IngressClass.
bool isNamespacedKind(const std::string& kind);

// The kinds Atrium understands, with their expected apiVersion.
struct KindInfo {
  const char* kind;
  const char* api_version;
};
const std::vector<KindInfo>& supportedKinds();

}  // namespace atrium::controller
