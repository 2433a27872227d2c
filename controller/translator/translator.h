#pragma once
// The translator: a pure function from the declared objects to a ConfigSnapshot plus
// per-object diagnostics. Same objects in → same snapshot out, whichever source they came from.
// A bad object (or rule) is reported and left out; it never blocks the others.
#include <string>

#include "controller/diagnostic.h"
#include "controller/store/object_store.h"
#include "src/config/snapshot.h"

namespace atrium::controller::translator {

inline constexpr const char* kControllerName = "atrium.dev/ingress-controller";

struct TranslatorOptions {
  std::string ingress_class = "atrium";
  // Serve Ingresses/APIRoutes that name no class (on by default in manifests mode).
  bool watch_without_class = false;
  // Only objects of this namespace (cluster-scoped kinds are always read); empty: all.
  std::string watch_namespace;
  // --default-tls-secret "NS/NAME": the certificate for unknown SNI (empty: self-signed).
  std::string default_tls_secret;
};

// One condition of an APIRoute's status (metav1.Condition without the bookkeeping times,
// which the status writer fills in).
struct ObjectCondition {
  std::string type;    // "Accepted", "ResolvedRefs", "Programmed"
  bool status = true;  // "True" / "False"
  std::string reason;  // CamelCase, e.g. "BackendNotFound"
  std::string message;
  bool operator==(const ObjectCondition&) const = default;
};

// What Atrium has to say about one object of its class: Ingresses get the publish address
// (no conditions), APIRoutes get conditions for their .metadata.generation. Objects of other
// classes have no entry: they get no status at all.
struct ObjectStatus {
  std::string kind;
  std::string ns;
  std::string name;
  int64_t generation = 0;
  std::vector<ObjectCondition> conditions;
  bool operator==(const ObjectStatus&) const = default;
};

struct TranslationResult {
  config::ConfigSnapshot snapshot;
  Diagnostics diagnostics;
  std::vector<ObjectStatus> statuses;  // sorted by kind, namespace, name
  bool operator==(const TranslationResult&) const = default;
};

class TranslationCache;

// With a cache (kept by the caller from one translation to the next), objects unchanged since
// the previous call are not translated again (translation_cache.h); the result is the same.
TranslationResult translate(const ObjectStore& objects, const TranslatorOptions& options,
                            TranslationCache* cache = nullptr);

}  // namespace atrium::controller::translator
