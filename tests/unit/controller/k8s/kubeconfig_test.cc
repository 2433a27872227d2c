#include "controller/k8s/kubeconfig.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "controller/k8s/api_client.h"
#include "controller/k8s/informer.h"

namespace atrium::controller::k8s {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "atrium-kubeconfig-XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  fs::path write(const std::string& name, const std::string& text) const {
    auto p = path_ / name;
    std::ofstream(p) << text;
    return p;
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// "-----BEGIN CERTIFICATE-----\nCA\n" in base64.
constexpr const char* kCaPem = "-----BEGIN CERTIFICATE-----\nCA\n";
constexpr const char* kCaBase64 = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCkNBCg==";

std::string kubeconfig(const std::string& cluster_extra, const std::string& user_extra,
                       const std::string& server = "https://127.0.0.1:6443") {
  return "apiVersion: v1\nkind: Config\ncurrent-context: ctx\n"
         "contexts:\n- name: other\n  context: {cluster: nowhere, user: nobody}\n"
         "- name: ctx\n  context: {cluster: c1, user: u1}\n"
         "clusters:\n- name: c1\n  cluster:\n    server: " +
         server + "\n" + cluster_extra + "users:\n- name: u1\n  user:\n" + user_extra;
}

TEST(Kubeconfig, CurrentContextWithInlineCaAndToken) {
  TempDir dir;
  auto path = dir.write(
      "config", kubeconfig("    certificate-authority-data: " + std::string(kCaBase64) + "\n",
                           "    token: secret-token\n"));
  ClusterConfig c = loadKubeconfig(path.string());
  EXPECT_EQ(c.host, "127.0.0.1");
  EXPECT_EQ(c.port, 6443);
  EXPECT_EQ(c.base_path, "");
  EXPECT_EQ(c.ca_pem, kCaPem);
  EXPECT_FALSE(c.insecure_skip_tls_verify);
  EXPECT_EQ(c.bearerToken(), "secret-token");
  EXPECT_TRUE(c.client_cert_pem.empty());
}

TEST(Kubeconfig, FilesResolveRelativeToTheKubeconfig) {
  TempDir dir;
  dir.write("ca.crt", "CA FILE");
  dir.write("client.crt", "CERT");
  dir.write("client.key", "KEY");
  dir.write("token", "file-token\n");
  auto path = dir.write(
      "config", kubeconfig("    certificate-authority: ca.crt\n",
                           "    client-certificate: client.crt\n    client-key: " +
                               (dir.path() / "client.key").string() + "\n    tokenFile: token\n",
                           "https://api.example.com/prefix/"));
  ClusterConfig c = loadKubeconfig(path.string());
  EXPECT_EQ(c.host, "api.example.com");
  EXPECT_EQ(c.port, 443);
  EXPECT_EQ(c.base_path, "/prefix");
  EXPECT_EQ(c.ca_pem, "CA FILE");
  EXPECT_EQ(c.client_cert_pem, "CERT");
  EXPECT_EQ(c.client_key_pem, "KEY");
  EXPECT_EQ(c.bearerToken(), "file-token");
}

TEST(Kubeconfig, InsecureAndIpv6) {
  TempDir dir;
  auto path = dir.write("config", kubeconfig("    insecure-skip-tls-verify: true\n",
                                             "    token: t\n", "https://[::1]:8443"));
  ClusterConfig c = loadKubeconfig(path.string());
  EXPECT_EQ(c.host, "::1");
  EXPECT_EQ(c.port, 8443);
  EXPECT_TRUE(c.insecure_skip_tls_verify);
}

TEST(Kubeconfig, ClearErrors) {
  TempDir dir;
  auto expectError = [](const std::string& path, const std::string& fragment) {
    try {
      loadKubeconfig(path);
      ADD_FAILURE() << "no error for " << path;
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
    }
  };
  expectError((dir.path() / "missing").string(), "cannot be read");
  expectError(dir.write("a", "current-context: x\ncontexts: []\n").string(),
              "context \"x\" not found");
  expectError(dir.write("b", kubeconfig("", "    token: t\n", "http://127.0.0.1:80")).string(),
              "only https://");
  expectError(dir.write("c", kubeconfig("    certificate-authority-data: '!!!'\n", "")).string(),
              "not valid base64");
  expectError(dir.write("d", kubeconfig("    certificate-authority: nope.crt\n", "")).string(),
              "cannot be read");
  expectError(dir.write("e", kubeconfig("", "    client-certificate-data: Q0VSVA==\n")).string(),
              "without a key");
  expectError(dir.write("f", "[1, 2]\n").string(), "not a kubeconfig");
}

TEST(InClusterConfig, ReadsTheServiceAccountMountAndReReadsTheToken) {
  TempDir dir;
  dir.write("token", "first\n");
  dir.write("ca.crt", "CLUSTER CA");
  setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
  setenv("KUBERNETES_SERVICE_PORT", "443", 1);
  ClusterConfig c = loadInClusterConfig(dir.path().string());
  EXPECT_EQ(c.host, "10.0.0.1");
  EXPECT_EQ(c.port, 443);
  EXPECT_EQ(c.ca_pem, "CLUSTER CA");
  EXPECT_EQ(c.bearerToken(), "first");
  dir.write("token", "rotated\n");  // the kubelet rotates projected tokens
  EXPECT_EQ(c.bearerToken(), "rotated");
  unsetenv("KUBERNETES_SERVICE_HOST");
  EXPECT_THROW(loadInClusterConfig(dir.path().string()), std::runtime_error);
  unsetenv("KUBERNETES_SERVICE_PORT");
}

TEST(Base64, DecodesWithAndWithoutPadding) {
  EXPECT_EQ(decodeBase64("aGVsbG8="), "hello");
  EXPECT_EQ(decodeBase64("aGVsbG8"), "hello");
  EXPECT_EQ(decodeBase64("aGVs\nbG8="), "hello");
  EXPECT_THROW(decodeBase64("a*b"), std::runtime_error);
}

TEST(ApiPaths, CollectionPathsAndQueryEncoding) {
  const auto& kinds = watchedKinds();
  auto find = [&](const std::string& kind) {
    for (const auto& k : kinds) {
      if (k.kind == kind) return k;
    }
    return ResourceKind{};
  };
  EXPECT_EQ(collectionPath(find("Service"), ""), "/api/v1/services");
  EXPECT_EQ(collectionPath(find("Ingress"), "team"),
            "/apis/networking.k8s.io/v1/namespaces/team/ingresses");
  EXPECT_EQ(collectionPath(find("IngressClass"), "team"),
            "/apis/networking.k8s.io/v1/ingressclasses");
  EXPECT_EQ(collectionPath(find("APIRoute"), ""), "/apis/atrium.dev/v1alpha1/apiroutes");
  EXPECT_EQ(encodeQueryValue("eyJ2+/="), "eyJ2%2B%2F%3D");
}

TEST(ApiPaths, ListItemsBecomeStoredObjects) {
  ResourceKind ingress{"Ingress", "networking.k8s.io/v1", "ingresses", true};
  nlohmann::json item = {{"metadata",
                          {{"name", "web"},
                           {"namespace", "shop"},
                           {"resourceVersion", "12"},
                           {"managedFields", nlohmann::json::array({{{"manager", "kubectl"}}})}}},
                         {"spec", nlohmann::json::object()}};
  KubeObject object;
  ASSERT_TRUE(toKubeObject(ingress, item, object));
  EXPECT_EQ(object.key(), "shop/web");
  EXPECT_EQ(object.body["kind"], "Ingress");
  EXPECT_EQ(object.body["apiVersion"], "networking.k8s.io/v1");
  EXPECT_FALSE(object.body["metadata"].contains("managedFields"));
  EXPECT_EQ(object.body["metadata"]["resourceVersion"], "12");
  EXPECT_FALSE(toKubeObject(ingress, nlohmann::json::object(), object));
}

}  // namespace
}  // namespace atrium::controller::k8s
