#include "controller/manifests/manifest_loader.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>

namespace atrium::controller::manifests {
namespace {

namespace fs = std::filesystem;

// A scratch directory unique to this process and test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::temp_directory_path() /
            ("atrium-manifests-" + std::string(info ? info->name() : "test") + "-" +
             std::to_string(::getpid()) + "-" + std::to_string(std::random_device()()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const fs::path& path() const { return path_; }

  fs::path write(const std::string& relative, const std::string& content) const {
    fs::path file = path_ / relative;
    fs::create_directories(file.parent_path());
    std::ofstream(file) << content;
    return file;
  }

 private:
  fs::path path_;
};

std::string service(const std::string& name, const std::string& ns = "") {
  std::string doc = "apiVersion: v1\nkind: Service\nmetadata:\n  name: " + name + "\n";
  if (!ns.empty()) doc += "  namespace: " + ns + "\n";
  doc += "spec:\n  ports:\n  - port: 80\n";
  return doc;
}

LoadResult parse(const std::string& text, const std::string& source = "test.yaml") {
  LoadResult result;
  parseManifestText(text, source, result);
  return result;
}

std::string allDiagnostics(const LoadResult& result) {
  std::string out;
  for (const auto& d : result.diagnostics) out += d.format() + "\n";
  return out;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(ManifestLoaderTest, ParsesOneObject) {
  auto result = parse(R"(
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
  namespace: shop
spec:
  rules:
  - host: shop.example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend: {service: {name: web, port: {number: 8080}}}
)");
  ASSERT_TRUE(result.diagnostics.empty()) << allDiagnostics(result);
  const auto* ingress = result.objects.find("Ingress", "shop", "web");
  ASSERT_NE(ingress, nullptr);
  EXPECT_EQ(ingress->api_version, "networking.k8s.io/v1");
  EXPECT_EQ(ingress->source, "test.yaml");
  EXPECT_EQ(ingress->displayName(), "Ingress shop/web");
  const auto& port =
      ingress->body["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"];
  EXPECT_TRUE(port["number"].is_number_integer());
  EXPECT_EQ(port["number"], 8080);
}

TEST(ManifestLoaderTest, QuotedNumbersStayStrings) {
  auto result = parse(R"(
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
  annotations:
    atrium.dev/use-regex: "true"
    atrium.dev/proxy-body-size: "8"
    plain: 8
)");
  ASSERT_TRUE(result.diagnostics.empty()) << allDiagnostics(result);
  const auto& annotations =
      result.objects.find("Ingress", "default", "web")->body["metadata"]["annotations"];
  EXPECT_EQ(annotations["atrium.dev/use-regex"], "true");
  EXPECT_EQ(annotations["atrium.dev/proxy-body-size"], "8");
  EXPECT_EQ(annotations["plain"], 8);
}

TEST(ManifestLoaderTest, MultiDocumentAndEmptyDocuments) {
  auto result = parse("---\n" + service("a") + "---\n---\n# just a comment\n---\n" + service("b") +
                      "...\n---\n" + service("c") + "---\n");
  EXPECT_TRUE(result.diagnostics.empty()) << allDiagnostics(result);
  EXPECT_EQ(result.objects.size(), 3u);
  EXPECT_NE(result.objects.find("Service", "default", "a"), nullptr);
  EXPECT_NE(result.objects.find("Service", "default", "b"), nullptr);
  EXPECT_NE(result.objects.find("Service", "default", "c"), nullptr);
}

TEST(ManifestLoaderTest, EmptyAndCommentOnlyFilesAreFine) {
  EXPECT_TRUE(parse("").diagnostics.empty());
  EXPECT_TRUE(parse("# nothing here\n\n").diagnostics.empty());
  EXPECT_TRUE(parse("---\n---\n").diagnostics.empty());
  EXPECT_TRUE(parse("  \n", "empty.json").diagnostics.empty());
  EXPECT_EQ(parse("---\n---\n").objects.size(), 0u);
}

TEST(ManifestLoaderTest, ExpandsListsAndChecksEachItem) {
  auto result = parse(R"(
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata: {name: one}
- apiVersion: v1
  kind: Service
  metadata: {namespace: shop}
- apiVersion: networking.k8s.io/v1
  kind: IngressList
  items:
  - apiVersion: networking.k8s.io/v1
    kind: Ingress
    metadata: {name: nested}
)");
  EXPECT_EQ(result.objects.size(), 2u);
  EXPECT_NE(result.objects.find("Service", "default", "one"), nullptr);
  EXPECT_NE(result.objects.find("Ingress", "default", "nested"), nullptr);
  ASSERT_EQ(result.diagnostics.size(), 1u) << allDiagnostics(result);
  EXPECT_EQ(result.diagnostics[0].field, "document[0].items[1].metadata.name");
  EXPECT_EQ(result.diagnostics[0].message, "missing metadata.name");
}

TEST(ManifestLoaderTest, ReadsJsonFiles) {
  std::string text = R"({
    "apiVersion": "v1", "kind": "List",
    "items": [
      {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "api", "namespace": "shop"},
       "spec": {"ports": [{"name": "http", "port": 80, "targetPort": "8080"}]}},
      {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "tls"},
       "type": "kubernetes.io/tls"}
    ]})";
  auto result = parse(text, "dir/objects.json");
  ASSERT_TRUE(result.diagnostics.empty()) << allDiagnostics(result);
  const auto* svc = result.objects.find("Service", "shop", "api");
  ASSERT_NE(svc, nullptr);
  EXPECT_EQ(svc->source, "dir/objects.json");
  EXPECT_EQ(svc->body["spec"]["ports"][0]["targetPort"], "8080");
  EXPECT_NE(result.objects.find("Secret", "default", "tls"), nullptr);
}

TEST(ManifestLoaderTest, InvalidJsonReportsPosition) {
  auto result = parse("{\n  \"apiVersion\": \"v1\",\n  \"kind\": \n}\n", "bad.json");
  ASSERT_EQ(result.diagnostics.size(), 1u);
  EXPECT_EQ(result.diagnostics[0].source, "bad.json");
  EXPECT_TRUE(contains(result.diagnostics[0].message, "invalid JSON at line 4"))
      << result.diagnostics[0].message;
  EXPECT_EQ(result.objects.size(), 0u);
}

TEST(ManifestLoaderTest, YamlAndJsonGiveIdenticalObjects) {
  auto from_yaml = parse(service("same", "shop"), "a.yaml");
  auto from_json = parse(R"({"apiVersion": "v1", "kind": "Service",
      "metadata": {"name": "same", "namespace": "shop"}, "spec": {"ports": [{"port": 80}]}})",
                         "a.json");
  EXPECT_TRUE(from_yaml.objects == from_json.objects);
  EXPECT_EQ(from_yaml.objects.find("Service", "shop", "same")->body.dump(),
            from_json.objects.find("Service", "shop", "same")->body.dump());
}

TEST(ManifestLoaderTest, DefaultsNamespaceAndWritesItIntoTheBody) {
  auto result =
      parse(service("web") + "---\n" + service("web", "prod") +
            "---\napiVersion: v1\nkind: Service\nmetadata: {name: empty-ns, namespace: \"\"}\n");
  ASSERT_TRUE(result.diagnostics.empty()) << allDiagnostics(result);
  const auto* web = result.objects.find("Service", "default", "web");
  ASSERT_NE(web, nullptr);
  EXPECT_EQ(web->ns, "default");
  EXPECT_EQ(web->key(), "default/web");
  EXPECT_EQ(web->body["metadata"]["namespace"], "default");
  EXPECT_NE(result.objects.find("Service", "prod", "web"), nullptr);
  EXPECT_EQ(result.objects.find("Service", "default", "empty-ns")->body["metadata"]["namespace"],
            "default");
}

TEST(ManifestLoaderTest, IngressClassIsClusterScoped) {
  auto result = parse(R"(
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata:
  name: atrium
  namespace: ignored
  annotations:
    ingressclass.kubernetes.io/is-default-class: "true"
spec:
  controller: atrium.dev/ingress-controller
)");
  ASSERT_TRUE(result.diagnostics.empty()) << allDiagnostics(result);
  const auto* cls = result.objects.find("IngressClass", "", "atrium");
  ASSERT_NE(cls, nullptr);
  EXPECT_EQ(cls->ns, "");
  EXPECT_EQ(cls->key(), "atrium");
  EXPECT_FALSE(cls->body["metadata"].contains("namespace"));
}

TEST(ManifestLoaderTest, AcceptsEverySupportedKind) {
  std::string text;
  for (const auto& info : supportedKinds()) {
    text += std::string("---\napiVersion: ") + info.api_version + "\nkind: " + info.kind +
            "\nmetadata: {name: x}\n";
  }
  auto result = parse(text);
  EXPECT_TRUE(result.diagnostics.empty()) << allDiagnostics(result);
  EXPECT_EQ(result.objects.size(), supportedKinds().size());
}

TEST(ManifestLoaderTest, UnknownKindIsAWarningAndSkipped) {
  auto result =
      parse("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n---\n" + service("web"));
  EXPECT_EQ(result.objects.size(), 1u);
  ASSERT_EQ(result.diagnostics.size(), 1u);
  const auto& d = result.diagnostics[0];
  EXPECT_EQ(d.source, "test.yaml");
  EXPECT_EQ(d.object, "Deployment default/web");
  EXPECT_EQ(d.field, "kind");
  EXPECT_TRUE(contains(d.message, "kind \"Deployment\" is not read by Atrium")) << d.message;
  EXPECT_TRUE(d.warning);
}

TEST(ManifestLoaderTest, WrongApiVersionIsReportedAndSkipped) {
  auto result =
      parse("apiVersion: networking.k8s.io/v1beta1\nkind: Ingress\nmetadata: {name: web}\n");
  EXPECT_EQ(result.objects.size(), 0u);
  ASSERT_EQ(result.diagnostics.size(), 1u);
  EXPECT_EQ(result.diagnostics[0],
            (Diagnostic{"test.yaml", "Ingress default/web", "apiVersion",
                        "unsupported apiVersion \"networking.k8s.io/v1beta1\" for kind Ingress "
                        "(expected networking.k8s.io/v1)"}));
}

TEST(ManifestLoaderTest, EnvelopeErrors) {
  struct Case {
    std::string yaml;
    std::string field;
    std::string message_part;
  };
  std::vector<Case> cases = {
      {"kind: Service\nmetadata: {name: a}\n", "apiVersion", "missing apiVersion"},
      {"apiVersion: 1\nkind: Service\nmetadata: {name: a}\n", "apiVersion", "must be a string"},
      {"apiVersion: v1\nmetadata: {name: a}\n", "document[0].kind", "missing kind"},
      {"apiVersion: v1\nkind: Service\n", "document[0].metadata.name", "missing metadata.name"},
      {"apiVersion: v1\nkind: Service\nmetadata: [a]\n", "document[0].metadata",
       "must be a mapping"},
      {"apiVersion: v1\nkind: Service\nmetadata: {name: 5}\n", "document[0].metadata.name",
       "must be a string"},
      {"apiVersion: v1\nkind: Service\nmetadata: {name: Web_1}\n", "metadata.name",
       "invalid name \"Web_1\""},
      {"apiVersion: v1\nkind: Service\nmetadata: {name: -web}\n", "metadata.name", "invalid name"},
      {"apiVersion: v1\nkind: Service\nmetadata: {name: a, namespace: Shop}\n",
       "metadata.namespace", "invalid namespace \"Shop\""},
      {"apiVersion: v1\nkind: Service\nmetadata: {name: a, namespace: a.b}\n", "metadata.namespace",
       "invalid namespace"},
  };
  for (const auto& c : cases) {
    auto result = parse(c.yaml);
    EXPECT_EQ(result.objects.size(), 0u) << c.yaml;
    ASSERT_EQ(result.diagnostics.size(), 1u) << c.yaml << allDiagnostics(result);
    EXPECT_EQ(result.diagnostics[0].field, c.field) << c.yaml;
    EXPECT_TRUE(contains(result.diagnostics[0].message, c.message_part))
        << c.yaml << " → " << result.diagnostics[0].message;
  }
  // Dotted names are valid subdomains.
  EXPECT_TRUE(parse("apiVersion: v1\nkind: Secret\nmetadata: {name: tls.example.com}\n")
                  .diagnostics.empty());
}

TEST(ManifestLoaderTest, NonMappingDocumentNamesItsIndex) {
  auto result =
      parse(service("a") + "---\n- just\n- a list\n---\nplain text\n---\n" + service("b"));
  EXPECT_EQ(result.objects.size(), 2u);
  ASSERT_EQ(result.diagnostics.size(), 2u) << allDiagnostics(result);
  EXPECT_EQ(result.diagnostics[0].field, "document[1]");
  EXPECT_TRUE(contains(result.diagnostics[0].message, "found a sequence"));
  EXPECT_TRUE(contains(result.diagnostics[0].message, "line 9")) << result.diagnostics[0].message;
  EXPECT_EQ(result.diagnostics[1].field, "document[2]");
  EXPECT_TRUE(contains(result.diagnostics[1].message, "found a string"));
}

TEST(ManifestLoaderTest, InvalidYamlReportsLineAndSkipsTheRestOfTheFile) {
  // Line 3 opens a flow mapping that never closes.
  auto result = parse("apiVersion: v1\nkind: Service\nmetadata: {name: a\nspec: {}\n");
  ASSERT_EQ(result.diagnostics.size(), 1u) << allDiagnostics(result);
  EXPECT_EQ(result.diagnostics[0].source, "test.yaml");
  EXPECT_TRUE(contains(result.diagnostics[0].message, "invalid YAML at line "))
      << result.diagnostics[0].message;
  EXPECT_EQ(result.objects.size(), 0u);

  // An error in the second document is located in the whole file; the first document stays,
  // everything after the error goes.
  result = parse(service("first") + "---\napiVersion: v1\nkind: Service\n  bad: indent\n---\n" +
                 service("after"));
  ASSERT_EQ(result.diagnostics.size(), 1u) << allDiagnostics(result);
  EXPECT_TRUE(contains(result.diagnostics[0].message, "invalid YAML at line 11, column 6"))
      << result.diagnostics[0].message;
  EXPECT_NE(result.objects.find("Service", "default", "first"), nullptr);
  EXPECT_EQ(result.objects.find("Service", "default", "after"), nullptr);
}

TEST(ManifestLoaderTest, UnterminatedQuoteIsAnError) {
  // yaml-cpp alone accepts a quote left open at the end of its input.
  auto result = parse(service("a") + "---\napiVersion: v1\nkind: Service\nmetadata: {name: b}\n" +
                      "spec: {type: \"ClusterIP}\n---\n" + service("c"));
  ASSERT_EQ(result.diagnostics.size(), 1u) << allDiagnostics(result);
  EXPECT_TRUE(contains(result.diagnostics[0].message, "invalid YAML at line 13"))
      << result.diagnostics[0].message;
  EXPECT_EQ(result.objects.size(), 1u);
}

TEST(ManifestLoaderTest, WindowsLineEndingsAndByteOrderMark) {
  auto result = parse(
      "\xEF\xBB\xBF# header\r\n---\r\napiVersion: v1\r\nkind: Service\r\n"
      "metadata:\r\n  name: a\r\n---\r\n--- {apiVersion: v1, kind: Service, "
      "metadata: {name: b}}\r\n");
  EXPECT_TRUE(result.diagnostics.empty()) << allDiagnostics(result);
  EXPECT_EQ(result.objects.size(), 2u);
}

TEST(ManifestLoaderTest, YamlWithoutJsonEquivalentIsReportedPerDocument) {
  auto result = parse(service("a") + "---\napiVersion: v1\nkind: Service\nkind: Secret\n---\n" +
                      service("b"));
  EXPECT_EQ(result.objects.size(), 2u);
  ASSERT_EQ(result.diagnostics.size(), 1u) << allDiagnostics(result);
  EXPECT_EQ(result.diagnostics[0].field, "document[1]");
  EXPECT_TRUE(contains(result.diagnostics[0].message, "line 11")) << result.diagnostics[0].message;
  EXPECT_TRUE(contains(result.diagnostics[0].message, "duplicate key \"kind\""));
}

TEST(ManifestLoaderTest, DuplicateInOneFileFirstWins) {
  auto result = parse(service("a") + "---\n" +
                      "apiVersion: v1\nkind: Service\nmetadata: {name: a, namespace: default}\n"
                      "spec: {type: ExternalName}\n");
  EXPECT_EQ(result.objects.size(), 1u);
  EXPECT_FALSE(result.objects.find("Service", "default", "a")->body["spec"].contains("type"));
  ASSERT_EQ(result.diagnostics.size(), 1u);
  EXPECT_EQ(result.diagnostics[0].object, "Service default/a");
  EXPECT_EQ(result.diagnostics[0].message, "duplicate of Service default/a from test.yaml");
}

TEST(ManifestLoaderTest, SecretStringDataBecomesData) {
  auto result = parse(R"(
apiVersion: v1
kind: Secret
metadata: {name: creds}
data:
  username: b2xk
  keep: eA==
stringData:
  username: admin
  password: s3cr
)");
  ASSERT_TRUE(result.diagnostics.empty()) << allDiagnostics(result);
  const auto& body = result.objects.find("Secret", "default", "creds")->body;
  EXPECT_FALSE(body.contains("stringData"));
  EXPECT_EQ(body["data"]["username"], "YWRtaW4=");
  EXPECT_EQ(body["data"]["password"], "czNjcg==");
  EXPECT_EQ(body["data"]["keep"], "eA==");
}

// ---- Directories ----

TEST(ManifestLoaderTest, LoadsDirectoryRecursivelyInSortedOrder) {
  TempDir dir;
  dir.write("b.yaml", service("b"));
  dir.write("a/z.yml", service("dup") + "---\n" + service("az"));
  dir.write("c/d/e.json",
            R"({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "deep"}})");
  dir.write("c/dup.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: dup}\n");
  dir.write("notes.txt", "not: a manifest\n");
  dir.write("README.md", "# docs\n");

  auto result = loadManifests(dir.path());
  EXPECT_EQ(result.objects.size(), 4u);
  EXPECT_EQ(result.objects.find("Service", "default", "b")->source,
            (dir.path() / "b.yaml").string());
  EXPECT_EQ(result.objects.find("Service", "default", "deep")->source,
            (dir.path() / "c/d/e.json").string());
  // a/z.yml sorts before c/dup.yaml, so it owns "dup".
  EXPECT_EQ(result.objects.find("Service", "default", "dup")->source,
            (dir.path() / "a/z.yml").string());
  ASSERT_EQ(result.diagnostics.size(), 1u) << allDiagnostics(result);
  EXPECT_EQ(result.diagnostics[0].source, (dir.path() / "c/dup.yaml").string());
  EXPECT_EQ(result.diagnostics[0].message,
            "duplicate of Service default/dup from " + (dir.path() / "a/z.yml").string());
}

TEST(ManifestLoaderTest, BadFileDoesNotStopGoodOnes) {
  TempDir dir;
  dir.write("1-bad.yaml", "apiVersion: v1\nkind: Service\nmetadata: [unclosed\n");
  dir.write("2-good.yaml", service("good"));
  auto result = loadManifests(dir.path());
  EXPECT_NE(result.objects.find("Service", "default", "good"), nullptr);
  ASSERT_EQ(result.diagnostics.size(), 1u) << allDiagnostics(result);
  EXPECT_EQ(result.diagnostics[0].source, (dir.path() / "1-bad.yaml").string());
  EXPECT_TRUE(contains(result.diagnostics[0].message, "invalid YAML at line"));
}

TEST(ManifestLoaderTest, SkipsHiddenFilesAndDirectories) {
  TempDir dir;
  dir.write("visible.yaml", service("visible"));
  dir.write(".hidden.yaml", service("hidden-file"));
  dir.write(".git/config.yaml", service("git"));
  dir.write("sub/.cache/x.yaml", service("cache"));
  // A ConfigMap volume: real files under ..<timestamp>, reached through ..data and top-level links.
  dir.write("cm/..2024_01_01/route.yaml", service("from-configmap"));
  fs::create_directory_symlink("..2024_01_01", dir.path() / "cm/..data");
  fs::create_symlink("..data/route.yaml", dir.path() / "cm/route.yaml");

  auto result = loadManifests(dir.path());
  EXPECT_TRUE(result.diagnostics.empty()) << allDiagnostics(result);
  EXPECT_EQ(result.objects.size(), 2u);
  EXPECT_NE(result.objects.find("Service", "default", "visible"), nullptr);
  EXPECT_EQ(result.objects.find("Service", "default", "from-configmap")->source,
            (dir.path() / "cm/route.yaml").string());
}

TEST(ManifestLoaderTest, FollowsDirectorySymlinksWithoutLooping) {
  TempDir dir;
  TempDir elsewhere;
  elsewhere.write("linked.yaml", service("linked"));
  dir.write("sub/own.yaml", service("own"));
  fs::create_directory_symlink(elsewhere.path(), dir.path() / "link");
  fs::create_directory_symlink("..", dir.path() / "sub/loop");  // points back at the root

  auto result = loadManifests(dir.path());
  EXPECT_TRUE(result.diagnostics.empty()) << allDiagnostics(result);
  EXPECT_EQ(result.objects.size(), 2u);
  EXPECT_EQ(result.objects.find("Service", "default", "linked")->source,
            (dir.path() / "link/linked.yaml").string());
}

TEST(ManifestLoaderTest, NonexistentPathIsReported) {
  auto missing = fs::temp_directory_path() / "atrium-definitely-missing-dir" / "x";
  auto result = loadManifests(missing);
  EXPECT_EQ(result.objects.size(), 0u);
  ASSERT_EQ(result.diagnostics.size(), 1u);
  EXPECT_EQ(result.diagnostics[0].source, missing.string());
  EXPECT_TRUE(contains(result.diagnostics[0].message, "No such file or directory"))
      << result.diagnostics[0].message;
}

TEST(ManifestLoaderTest, UnreadableFileIsReported) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads files regardless of permissions";
  TempDir dir;
  auto file = dir.write("secret.yaml", service("x"));
  fs::permissions(file, fs::perms::none);
  auto result = loadManifests(dir.path());
  fs::permissions(file, fs::perms::owner_all);
  ASSERT_EQ(result.diagnostics.size(), 1u);
  EXPECT_EQ(result.diagnostics[0].source, file.string());
  EXPECT_TRUE(contains(result.diagnostics[0].message, "Permission denied"));
}

TEST(ManifestLoaderTest, DanglingManifestSymlinkIsReported) {
  TempDir dir;
  fs::create_symlink(dir.path() / "gone.yaml", dir.path() / "link.yaml");
  auto result = loadManifests(dir.path());
  ASSERT_EQ(result.diagnostics.size(), 1u) << allDiagnostics(result);
  EXPECT_EQ(result.diagnostics[0].source, (dir.path() / "link.yaml").string());
}

TEST(ManifestLoaderTest, SingleFileAndSeveralPaths) {
  TempDir dir;
  auto one = dir.write("one/a.yaml", service("a"));
  auto other = dir.write("two/b.yaml", service("b"));
  auto single = loadManifests(one);
  EXPECT_TRUE(single.diagnostics.empty()) << allDiagnostics(single);
  EXPECT_EQ(single.objects.size(), 1u);
  EXPECT_EQ(single.objects.find("Service", "default", "a")->source, one.string());

  // A file named both directly and through its directory loads once, not as its own duplicate.
  auto merged =
      loadManifests(std::vector<fs::path>{dir.path() / "one", other, one, dir.path() / "missing"});
  EXPECT_EQ(merged.objects.size(), 2u);
  ASSERT_EQ(merged.diagnostics.size(), 1u) << allDiagnostics(merged);
  EXPECT_EQ(merged.diagnostics[0].source, (dir.path() / "missing").string());
}

TEST(ManifestLoaderTest, DiagnosticFormatIsOneLine) {
  auto result = parse("apiVersion: v2\nkind: Service\nmetadata: {name: web}\n", "m/app.yaml");
  ASSERT_EQ(result.diagnostics.size(), 1u);
  EXPECT_EQ(result.diagnostics[0].format(),
            "m/app.yaml: Service default/web: apiVersion: unsupported apiVersion \"v2\" for kind "
            "Service (expected v1)");
}

}  // namespace
}  // namespace atrium::controller::manifests
