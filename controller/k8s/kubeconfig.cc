#include "controller/k8s/kubeconfig.h"

#include <yaml-cpp/yaml.h>

#include <array>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "src/common/base64.h"

namespace atrium::controller::k8s {

namespace {

std::string readFile(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(what + " " + path + ": cannot be read");
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string trimmed(std::string s) {
  while (!s.empty() &&
         (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t'))
    s.pop_back();
  size_t start = s.find_first_not_of(" \t\r\n");
  return start == std::string::npos ? std::string() : s.substr(start);
}

// "https://host:port/base" → host, port, base. IPv6 literals come bracketed.
void parseServer(const std::string& server, ClusterConfig& out, const std::string& where) {
  std::string rest = server;
  if (rest.rfind("https://", 0) == 0) {
    rest = rest.substr(8);
  } else if (rest.find("://") != std::string::npos) {
    throw std::runtime_error(where + ": server " + server + ": only https:// is supported");
  }
  size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  out.base_path = slash == std::string::npos ? "" : rest.substr(slash);
  while (!out.base_path.empty() && out.base_path.back() == '/') out.base_path.pop_back();
  std::string port_text;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string::npos)
      throw std::runtime_error(where + ": server " + server + ": bad IPv6 address");
    out.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size() && authority[close + 1] == ':')
      port_text = authority.substr(close + 2);
  } else {
    size_t colon = authority.rfind(':');
    out.host = authority.substr(0, colon);
    if (colon != std::string::npos) port_text = authority.substr(colon + 1);
  }
  if (out.host.empty()) throw std::runtime_error(where + ": server " + server + ": no host");
  out.port = 443;
  if (!port_text.empty()) {
    char* end = nullptr;
    long port = std::strtol(port_text.c_str(), &end, 10);
    if (*end != '\0' || port < 1 || port > 65535)
      throw std::runtime_error(where + ": server " + server + ": bad port");
    out.port = static_cast<uint16_t>(port);
  }
}

YAML::Node findNamed(const YAML::Node& list, const std::string& name, const std::string& what,
                     const std::string& where) {
  if (list && list.IsSequence()) {
    for (const auto& entry : list) {
      if (entry["name"] && entry["name"].as<std::string>() == name) return entry[what];
    }
  }
  throw std::runtime_error(where + ": " + what + " \"" + name + "\" not found");
}

std::string str(const YAML::Node& node, const char* key) {
  return node && node[key] && node[key].IsScalar() ? node[key].as<std::string>() : "";
}

// "<key>-data" (base64) wins over "<key>" (a file path, relative to the kubeconfig's folder).
std::string dataOrFile(const YAML::Node& node, const std::string& key,
                       const std::filesystem::path& dir, const std::string& where) {
  std::string data = str(node, (key + "-data").c_str());
  if (!data.empty()) {
    try {
      return decodeBase64(data);
    } catch (const std::exception&) {
      throw std::runtime_error(where + ": " + key + "-data is not valid base64");
    }
  }
  std::string file = str(node, key.c_str());
  if (file.empty()) return "";
  std::filesystem::path p(file);
  if (p.is_relative()) p = dir / p;
  return readFile(p.string(), where + ": " + key);
}

}  // namespace

std::string decodeBase64(const std::string& text) { return common::decodeBase64(text); }

std::string ClusterConfig::bearerToken() const {
  if (token_file.empty()) return token;
  // The kubelet swaps the file atomically; a failed read mid-rotation falls back to the
  // token read at start rather than sending none.
  std::ifstream in(token_file, std::ios::binary);
  if (!in) return token;
  std::ostringstream s;
  s << in.rdbuf();
  std::string fresh = trimmed(s.str());
  return fresh.empty() ? token : fresh;
}

ClusterConfig loadKubeconfig(const std::string& path) {
  const std::string where = "--kubeconfig " + path;
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    throw std::runtime_error(where + ": cannot be read");
  } catch (const YAML::Exception& e) {
    throw std::runtime_error(where + ": not valid YAML: " + e.msg);
  }
  if (!root.IsMap()) throw std::runtime_error(where + ": not a kubeconfig (expected a mapping)");
  const auto dir = std::filesystem::path(path).parent_path();
  try {
    std::string context_name = str(root, "current-context");
    if (context_name.empty()) throw std::runtime_error(where + ": no current-context");
    YAML::Node context = findNamed(root["contexts"], context_name, "context", where);
    std::string cluster_name = str(context, "cluster");
    std::string user_name = str(context, "user");
    if (cluster_name.empty())
      throw std::runtime_error(where + ": context \"" + context_name + "\" names no cluster");
    YAML::Node cluster = findNamed(root["clusters"], cluster_name, "cluster", where);
    ClusterConfig out;
    std::string server = str(cluster, "server");
    if (server.empty())
      throw std::runtime_error(where + ": cluster \"" + cluster_name + "\" has no server");
    parseServer(server, out, where);
    out.insecure_skip_tls_verify = str(cluster, "insecure-skip-tls-verify") == "true";
    out.ca_pem = dataOrFile(cluster, "certificate-authority", dir, where);
    if (!user_name.empty()) {
      YAML::Node user = findNamed(root["users"], user_name, "user", where);
      out.token = trimmed(str(user, "token"));
      std::string token_file = str(user, "tokenFile");
      if (out.token.empty() && !token_file.empty()) {
        std::filesystem::path p(token_file);
        if (p.is_relative()) p = dir / p;
        out.token = trimmed(readFile(p.string(), where + ": tokenFile"));
        out.token_file = p.string();
      }
      out.client_cert_pem = dataOrFile(user, "client-certificate", dir, where);
      out.client_key_pem = dataOrFile(user, "client-key", dir, where);
      if (out.client_cert_pem.empty() != out.client_key_pem.empty())
        throw std::runtime_error(where + ": user \"" + user_name +
                                 "\" has a client certificate without a key, or a key without one");
      if (user["exec"] && out.token.empty() && out.client_cert_pem.empty())
        throw std::runtime_error(where + ": user \"" + user_name +
                                 "\": exec credential plugins are not supported");
    }
    return out;
  } catch (const YAML::Exception& e) {
    throw std::runtime_error(where + ": " + e.msg);
  }
}

ClusterConfig loadInClusterConfig(const std::string& mount_dir) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (!host || !*host || !port || !*port) {
    throw std::runtime_error(
        "in-cluster config: KUBERNETES_SERVICE_HOST/PORT are not set (not running in a pod?); "
        "use --kubeconfig PATH or --manifests DIR");
  }
  ClusterConfig out;
  std::string h = host;
  std::string authority = h.find(':') != std::string::npos ? "[" + h + "]" : h;
  parseServer("https://" + authority + ":" + port, out, "in-cluster config");
  out.token_file = mount_dir + "/token";
  out.token = trimmed(readFile(out.token_file, "in-cluster config: token"));
  out.ca_pem = readFile(mount_dir + "/ca.crt", "in-cluster config: CA");
  return out;
}

}  // namespace atrium::controller::k8s
