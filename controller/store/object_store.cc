#include "controller/store/object_store.h"

namespace atrium::controller {

bool ObjectStore::upsert(KubeObject object) {
  auto& bucket = kinds_[object.kind];
  auto key = object.key();
  auto [it, inserted] = bucket.insert_or_assign(std::move(key), std::move(object));
  return inserted;
}

bool ObjectStore::erase(const std::string& kind, const std::string& key) {
  auto it = kinds_.find(kind);
  return it != kinds_.end() && it->second.erase(key) > 0;
}

void ObjectStore::clearKind(const std::string& kind) { kinds_.erase(kind); }

const KubeObject* ObjectStore::find(const std::string& kind, const std::string& ns,
                                    const std::string& name) const {
  auto it = kinds_.find(kind);
  if (it == kinds_.end()) return nullptr;
  auto obj = it->second.find(ns.empty() ? name : ns + "/" + name);
  return obj == it->second.end() ? nullptr : &obj->second;
}

const ObjectStore::Bucket& ObjectStore::all(const std::string& kind) const {
  static const Bucket kEmpty;
  auto it = kinds_.find(kind);
  return it == kinds_.end() ? kEmpty : it->second;
}

size_t ObjectStore::size() const {
  size_t n = 0;
  for (const auto& [kind, bucket] : kinds_) n += bucket.size();
  return n;
}

bool ObjectStore::operator==(const ObjectStore& other) const {
  // Equal when the same objects with the same bodies are present, wherever they came from.
  if (kinds_.size() != other.kinds_.size()) return false;
  for (const auto& [kind, bucket] : kinds_) {
    const auto& theirs = other.all(kind);
    if (bucket.size() != theirs.size()) return false;
    for (const auto& [key, obj] : bucket) {
      auto it = theirs.find(key);
      if (it == theirs.end() || it->second.body != obj.body) return false;
    }
  }
  return true;
}

bool isNamespacedKind(const std::string& kind) { return kind != "IngressClass"; }

const std::vector<KindInfo>& supportedKinds() {
  static const std::vector<KindInfo> kKinds = {
      {"Ingress", "networking.k8s.io/v1"},     {"IngressClass", "networking.k8s.io/v1"},
      {"Service", "v1"},                       {"EndpointSlice", "discovery.k8s.io/v1"},
      {"Secret", "v1"},                        {"APIRoute", "atrium.dev/v1alpha1"},
      {"APIConsumer", "atrium.dev/v1alpha1"},
  };
  return kKinds;
}

}  // namespace atrium::controller
