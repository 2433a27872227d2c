// Incremental translation must be invisible: with a cache, every result equals the result of
// translating from scratch — after no change, after any object is deleted (Services and
// EndpointSlices included, which changes what backends resolve to and the objects' age ranks),
// and after an object is edited.
#include "controller/translator/translation_cache.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "controller/manifests/manifest_loader.h"
#include "controller/translator/translator.h"

namespace atrium::controller::translator {
namespace {

namespace fs = std::filesystem;

// Gives every object the uid and resourceVersion the API server would, so the cache applies.
ObjectStore withVersions(const ObjectStore& in) {
  ObjectStore out;
  int n = 0;
  for (const char* kind : {"IngressClass", "Ingress", "APIRoute", "Service", "EndpointSlice",
                           "Secret", "APIConsumer"}) {
    for (const auto& [key, object] : in.all(kind)) {
      KubeObject o = object;
      o.body["metadata"]["uid"] = "uid-" + std::to_string(++n);
      o.body["metadata"]["resourceVersion"] = std::to_string(1000 + n);
      o.body["metadata"]["creationTimestamp"] =
          "2026-01-01T00:00:" + std::string(n < 10 ? "0" : "") + std::to_string(n % 60) + "Z";
      out.upsert(std::move(o));
    }
  }
  return out;
}

std::vector<ObjectStore> goldenStores() {
  std::vector<ObjectStore> stores;
  const fs::path dir = fs::path(ATRIUM_SOURCE_DIR) / "tests/testdata/translator";
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (!entry.path().string().ends_with(".in.yaml")) continue;
    std::ifstream in(entry.path());
    std::ostringstream text;
    text << in.rdbuf();
    manifests::LoadResult loaded;
    manifests::parseManifestText(text.str(), entry.path().string(), loaded);
    stores.push_back(withVersions(loaded.objects));
  }
  return stores;
}

TranslatorOptions options() {
  TranslatorOptions o;
  o.watch_without_class = true;
  return o;
}

TEST(TranslationCache, WarmResultEqualsFromScratch) {
  size_t checked = 0;
  for (const auto& store : goldenStores()) {
    TranslationCache cache;
    const auto scratch = translate(store, options());
    EXPECT_EQ(translate(store, options(), &cache), scratch);  // cold
    EXPECT_EQ(translate(store, options(), &cache), scratch);  // warm: everything reused
    ++checked;
  }
  EXPECT_GE(checked, 10u);
}

TEST(TranslationCache, EveryDeletionGivesTheFromScratchResult) {
  size_t checked = 0;
  for (const auto& store : goldenStores()) {
    for (const char* kind : {"IngressClass", "Ingress", "APIRoute", "Service", "EndpointSlice"}) {
      for (const auto& [key, object] : store.all(kind)) {
        TranslationCache cache;
        translate(store, options(), &cache);
        ObjectStore changed = store;
        changed.erase(kind, key);
        EXPECT_EQ(translate(changed, options(), &cache), translate(changed, options()))
            << "after deleting " << object.displayName();
        // ... and back again.
        EXPECT_EQ(translate(store, options(), &cache), translate(store, options()))
            << "after re-adding " << object.displayName();
        ++checked;
      }
    }
  }
  EXPECT_GE(checked, 50u);
}

TEST(TranslationCache, AnEditedObjectIsTranslatedAgain) {
  for (const auto& store : goldenStores()) {
    for (const auto& [key, object] : store.all("Service")) {
      TranslationCache cache;
      translate(store, options(), &cache);
      ObjectStore changed = store;
      KubeObject edited = object;
      edited.body["spec"]["ports"] = nlohmann::json::array();  // no port resolves any more
      edited.body["metadata"]["resourceVersion"] = "999999";
      changed.upsert(edited);
      EXPECT_EQ(translate(changed, options(), &cache), translate(changed, options()))
          << "after editing " << object.displayName();
    }
    for (const char* kind : {"Ingress", "APIRoute"}) {
      for (const auto& [key, object] : store.all(kind)) {
        TranslationCache cache;
        translate(store, options(), &cache);
        ObjectStore changed = store;
        KubeObject edited = object;
        edited.body["spec"]["ingressClassName"] = "someone-else";
        edited.body["metadata"]["resourceVersion"] = "999999";
        changed.upsert(edited);
        EXPECT_EQ(translate(changed, options(), &cache), translate(changed, options()))
            << "after editing " << object.displayName();
      }
    }
  }
}

}  // namespace
}  // namespace atrium::controller::translator
