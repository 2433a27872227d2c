#pragma once
// Where the API server is and how to authenticate to it: read from a kubeconfig file's
// current context or from the in-cluster service-account mount. Errors are one-line
// std::runtime_error messages naming the file and the field, fit to print and exit on.
#include <cstdint>
#include <string>

namespace atrium::controller::k8s {

struct ClusterConfig {
  std::string host;  // "127.0.0.1", "kubernetes.default.svc"
  uint16_t port = 443;
  std::string base_path;  // "" or "/prefix" (no trailing slash), prepended to API paths
  std::string ca_pem;     // empty: the system trust store
  bool insecure_skip_tls_verify = false;
  std::string token;  // bearer token; empty when none
  // In-cluster the kubelet rotates the token file; bearerToken() re-reads it when set.
  std::string token_file;
  std::string client_cert_pem;
  std::string client_key_pem;

  // The token to send now: token_file's current content when set (falling back to `token`,
  // read at start, when the file is momentarily unreadable during a rotation), else token.
  std::string bearerToken() const;
};

// Reads PATH's current context. Relative file references resolve against PATH's folder.
ClusterConfig loadKubeconfig(const std::string& path);

// The service-account mount (/var/run/secrets/kubernetes.io/serviceaccount by default) plus
// KUBERNETES_SERVICE_HOST/PORT. `mount_dir` is a parameter so tests can point at a temp folder.
ClusterConfig loadInClusterConfig(
    const std::string& mount_dir = "/var/run/secrets/kubernetes.io/serviceaccount");

// Standard base64 (padding optional, whitespace ignored); throws std::runtime_error when invalid.
std::string decodeBase64(const std::string& text);

}  // namespace atrium::controller::k8s
