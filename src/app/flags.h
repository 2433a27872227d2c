#pragma once
// Command-line flags of the `atrium` binary (SPEC §2).
#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace atrium::app {

struct Flags {
  // Source of configuration.
  std::string manifests;
  std::string kubeconfig;
  std::string ingress_class = "atrium";
  std::string watch_namespace;
  std::optional<bool> watch_ingress_without_class;  // default depends on the mode
  // Listeners.
  std::string bind = "0.0.0.0";
  uint16_t http_port = 8080;
  uint16_t https_port = 8443;
  std::string admin_bind = "0.0.0.0";
  uint16_t admin_port = 9901;
  unsigned threads = 0;  // 0: hardware threads
  // Gateway state and policy inputs (used by later features; validated already).
  std::string redis;
  std::string trusted_proxies;
  std::string default_tls_secret;
  uint64_t cache_size = 256ull * 1024 * 1024;
  std::string admin_token_file;
  std::string state_dir;
  unsigned replicas = 1;
  std::optional<int64_t> clock_start;  // --clock-start, seconds since the epoch
  std::string publish_service;
  std::string publish_address;
  std::optional<bool> leader_elect;
  std::string lease_namespace;
  std::chrono::milliseconds lease_duration{15'000};
  // Logging and lifecycle.
  std::string log_level = "info";
  std::string log_format = "text";
  std::string access_log = "stdout";
  std::chrono::milliseconds drain_timeout{30'000};

  // `atrium check PATH...`
  bool check = false;
  std::vector<std::string> check_paths;
  bool help = false;
  bool version = false;
};

// Parses argv. On a bad flag returns nullopt and puts a one-line message in `error`.
std::optional<Flags> parseFlags(int argc, char** argv, std::string& error);

std::string helpText();

}  // namespace atrium::app
