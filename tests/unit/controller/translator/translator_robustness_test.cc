// "One bad object never blocks the others" (SPEC §4): whatever type a field of an object has,
// translating must report, not throw. Every field of every object of the golden inputs is
// replaced in turn by values of every JSON type.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "controller/manifests/manifest_loader.h"
#include "controller/translator/translator.h"

namespace atrium::controller::translator {
namespace {

namespace fs = std::filesystem;

// Calls fn(pointer) for every value below `j` (not `j` itself).
void forEachPointer(const nlohmann::json& j, const nlohmann::json::json_pointer& at,
                    const std::function<void(const nlohmann::json::json_pointer&)>& fn) {
  if (j.is_object()) {
    for (const auto& [key, value] : j.items()) {
      fn(at / key);
      forEachPointer(value, at / key, fn);
    }
  } else if (j.is_array()) {
    for (size_t i = 0; i < j.size(); ++i) {
      fn(at / i);
      forEachPointer(j[i], at / i, fn);
    }
  }
}

TEST(TranslatorRobustness, AnyFieldOfAnyTypeIsReportedNeverThrown) {
  const fs::path dir = fs::path(ATRIUM_SOURCE_DIR) / "tests/testdata/translator";
  const std::vector<nlohmann::json> replacements = {
      nullptr, 0, -1, 70000, 1.5, "", "x", true, nlohmann::json::array(),
      nlohmann::json::object(), nlohmann::json::array({1, "a", nullptr})};
  TranslatorOptions options;
  options.watch_without_class = true;
  size_t runs = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string file = entry.path().string();
    if (!file.ends_with(".in.yaml")) continue;
    std::ifstream in(entry.path());
    std::ostringstream text;
    text << in.rdbuf();
    manifests::LoadResult loaded;
    manifests::parseManifestText(text.str(), file, loaded);
    for (const char* kind :
         {"Ingress", "APIRoute", "Service", "EndpointSlice", "IngressClass", "APIConsumer"}) {
      for (const auto& [key, object] : loaded.objects.all(kind)) {
        forEachPointer(object.body, nlohmann::json::json_pointer(), [&](const nlohmann::json::json_pointer& ptr) {
          // The envelope is the loader's job; the translator gets objects that passed it.
          const std::string where = ptr.to_string();
          if (where == "/kind" || where == "/apiVersion" || where == "/metadata" ||
              where == "/metadata/name" || where == "/metadata/namespace") {
            return;
          }
          for (const auto& value : replacements) {
            ObjectStore store = loaded.objects;
            KubeObject mutated = object;
            mutated.body[ptr] = value;
            store.upsert(mutated);
            EXPECT_NO_THROW(translate(store, options))
                << file << ": " << object.displayName() << " " << where << " = " << value.dump();
            ++runs;
          }
        });
      }
    }
  }
  EXPECT_GT(runs, 1000u);
}

}  // namespace
}  // namespace atrium::controller::translator
