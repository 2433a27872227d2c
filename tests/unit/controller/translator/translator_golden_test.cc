// Golden tests of the translator (DESIGN.md §5): every tests/testdata/translator/<case>.in.yaml
// is loaded as manifests, translated, and compared with <case>.out.json, which holds the
// snapshot and the diagnostics. Run with UPDATE_GOLDEN=1 to rewrite the goldens, then review
// the diff: a golden that records a bug is worse than none.
//
// Options: ingress class "atrium"; Ingresses/APIRoutes without a class are served unless the
// case name starts with "strict_" (the in-cluster default).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "controller/manifests/manifest_loader.h"
#include "controller/translator/translator.h"
#include "src/config/snapshot_json.h"

namespace atrium::controller::translator {
namespace {

namespace fs = std::filesystem;

constexpr const char* kCaseDir = "tests/testdata/translator";

std::vector<std::string> caseNames() {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(fs::path(ATRIUM_SOURCE_DIR) / kCaseDir, ec)) {
    const std::string file = entry.path().filename().string();
    const std::string suffix = ".in.yaml";
    if (file.size() > suffix.size() && file.ends_with(suffix)) {
      names.push_back(file.substr(0, file.size() - suffix.size()));
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

struct Outcome {
  manifests::LoadResult loaded;
  TranslationResult translated;
  std::string golden_text;  // what <case>.out.json must hold
};

Outcome run(const std::string& name) {
  Outcome o;
  // The source name is relative to the repository root so goldens do not depend on where the
  // checkout lives.
  const std::string source = std::string(kCaseDir) + "/" + name + ".in.yaml";
  manifests::parseManifestText(readFile(fs::path(ATRIUM_SOURCE_DIR) / source), source, o.loaded);
  TranslatorOptions options;
  options.ingress_class = "atrium";
  options.watch_without_class = !name.starts_with("strict_");
  o.translated = translate(o.loaded.objects, options);
  nlohmann::json diagnostics = nlohmann::json::array();
  for (const auto& d : o.translated.diagnostics) diagnostics.push_back(d.format());
  nlohmann::json doc = {{"snapshot", config::toJson(o.translated.snapshot)},
                        {"diagnostics", diagnostics}};
  o.golden_text = doc.dump(2) + "\n";
  return o;
}

class TranslatorGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(TranslatorGolden, MatchesGolden) {
  const std::string name = GetParam();
  Outcome o = run(name);
  // The inputs are meant to exercise the translator, not the loader.
  for (const auto& d : o.loaded.diagnostics) ADD_FAILURE() << "loader: " << d.format();

  const fs::path golden = fs::path(ATRIUM_SOURCE_DIR) / kCaseDir / (name + ".out.json");
  const char* update = std::getenv("UPDATE_GOLDEN");
  if (update && std::string(update) == "1") {
    std::ofstream(golden, std::ios::binary) << o.golden_text;
    GTEST_SKIP() << "rewrote " << golden;
  }
  ASSERT_TRUE(fs::exists(golden)) << golden << " is missing; run with UPDATE_GOLDEN=1";
  const std::string expected = readFile(golden);
  if (expected != o.golden_text) {
    // Show the first differing line; the whole files are easiest compared with git diff after
    // UPDATE_GOLDEN=1.
    std::istringstream a(expected), b(o.golden_text);
    std::string la, lb;
    int line = 0;
    while (true) {
      ++line;
      const bool more_a = static_cast<bool>(std::getline(a, la));
      const bool more_b = static_cast<bool>(std::getline(b, lb));
      if (!more_a && !more_b) break;
      if (la != lb || more_a != more_b) {
        ADD_FAILURE() << golden.filename() << ":" << line << " differs\n  golden: " << la
                      << "\n  actual: " << lb;
        break;
      }
    }
  }
}

TEST_P(TranslatorGolden, SnapshotIsValidAndDeterministic) {
  const std::string name = GetParam();
  Outcome first = run(name);
  Outcome second = run(name);
  EXPECT_EQ(first.translated, second.translated);
  std::string problems;
  for (const auto& p : config::validate(first.translated.snapshot)) problems += p + "\n";
  EXPECT_EQ(problems, "");
  // What the golden records decodes to the same snapshot.
  EXPECT_EQ(config::snapshotFromJson(config::toJson(first.translated.snapshot)),
            first.translated.snapshot);
}

std::string testName(const ::testing::TestParamInfo<std::string>& info) {
  std::string out;
  for (char c : info.param) out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return out;
}

INSTANTIATE_TEST_SUITE_P(Cases, TranslatorGolden, ::testing::ValuesIn(caseNames()), testName);

TEST(TranslatorGoldenCases, Exist) {
  auto names = caseNames();
  EXPECT_GE(names.size(), 12u);
  for (const auto& name : names) {
    EXPECT_TRUE(fs::exists(fs::path(ATRIUM_SOURCE_DIR) / kCaseDir / (name + ".out.json")))
        << name << ".out.json is missing";
  }
}

}  // namespace
}  // namespace atrium::controller::translator
