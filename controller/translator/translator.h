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
};

struct TranslationResult {
  config::ConfigSnapshot snapshot;
  Diagnostics diagnostics;
  bool operator==(const TranslationResult&) const = default;
};

TranslationResult translate(const ObjectStore& objects, const TranslatorOptions& options);

}  // namespace atrium::controller::translator
