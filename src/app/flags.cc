#include "src/app/flags.h"

#include <boost/program_options.hpp>
#include <thread>

#include "proxy/metering/calendar.h"

#include "controller/k8s/status_patch.h"
#include "src/common/units.h"

namespace atrium::app {

namespace po = boost::program_options;

namespace {

po::options_description describeFlags() {
  po::options_description d("Flags");
  // Values are taken as strings and converted here, so every error names the flag and the
  // problem in one line.
  d.add_options()
      ("manifests", po::value<std::string>(), "serve the Kubernetes manifests under DIR; changes apply live")
      ("kubeconfig", po::value<std::string>(), "controller mode against the cluster in PATH's current context")
      ("ingress-class", po::value<std::string>(), "IngressClass name (default atrium)")
      ("watch-namespace", po::value<std::string>(), "only this namespace (default: all)")
      ("watch-ingress-without-class", po::value<std::string>()->implicit_value("true"),
       "also serve Ingresses/APIRoutes that name no class (default on with --manifests, off in a cluster)")
      ("bind", po::value<std::string>(), "listen address (default 0.0.0.0)")
      ("http-port", po::value<std::string>(), "HTTP port (default 8080)")
      ("https-port", po::value<std::string>(), "HTTPS port (default 8443)")
      ("admin-port", po::value<std::string>(), "admin port (default 9901)")
      ("admin-bind", po::value<std::string>(), "admin listen address (default 0.0.0.0)")
      ("threads", po::value<std::string>(), "proxy worker threads (default: hardware threads)")
      ("redis", po::value<std::string>(), "redis://[:password@]host:port[/db] for shared state")
      ("trusted-proxies", po::value<std::string>(), "CIDRs whose X-Forwarded-For is believed")
      ("replicas", po::value<std::string>(), "replicas sharing Global limits: each enforces 1/N of them while Redis is unreachable (default 1)")
      ("clock-start", po::value<std::string>(), "testing/demos: the quota and usage calendar starts at this UTC time (2026-11-30T23:59:50Z)")
      ("default-tls-secret", po::value<std::string>(), "NS/NAME of the certificate for unknown SNI")
      ("cache-size", po::value<std::string>(), "response cache bound in bytes (e.g. 256Mi)")
      ("admin-token-file", po::value<std::string>(), "bearer token for protected admin endpoints")
      ("state-dir", po::value<std::string>(), "where quota/usage counters persist without Redis")
      ("publish-service", po::value<std::string>(), "NS/NAME whose address goes into Ingress status")
      ("publish-address", po::value<std::string>(), "address written to Ingress status")
      ("leader-elect", po::value<std::string>()->implicit_value("true"), "leader election for status writes")
      ("lease-namespace", po::value<std::string>(), "namespace of the leader-election Lease")
      ("lease-duration", po::value<std::string>(), "leader-election Lease duration (default 15s; renewals every 2/15 of it)")
      ("log-level", po::value<std::string>(), "debug|info|warn|error (default info)")
      ("log-format", po::value<std::string>(), "json|text (default text)")
      ("access-log", po::value<std::string>(), "stdout|off|PATH (default stdout)")
      ("drain-timeout", po::value<std::string>(), "graceful shutdown drain (default 30s)")
      ("version", "print the version and exit")
      ("help,h", "print this help and exit");
  return d;
}

// "2026-11-30T23:59:50Z" → seconds since the epoch.
std::optional<int64_t> parseUtcTime(const std::string& text) {
  if (text.size() != 20 || text[10] != 'T' || text[13] != ':' || text[16] != ':' || text[19] != 'Z') {
    return std::nullopt;
  }
  auto period = proxy::metering::parseReportPeriod(text.substr(0, 10));
  if (!period) return std::nullopt;
  auto two = [&text](size_t pos) -> int {
    if (!std::isdigit(static_cast<unsigned char>(text[pos])) ||
        !std::isdigit(static_cast<unsigned char>(text[pos + 1]))) {
      return -1;
    }
    return (text[pos] - '0') * 10 + (text[pos + 1] - '0');
  };
  const int h = two(11), m = two(14), s = two(17);
  if (h < 0 || h > 23 || m < 0 || m > 59 || s < 0 || s > 59) return std::nullopt;
  return period->start + h * 3600 + m * 60 + s;
}

// A whole number from 1 to `max`.
bool parseCount(const std::string& flag, const std::string& text, long max, const char* what,
                unsigned& out, std::string& error) {
  try {
    size_t used = 0;
    long v = std::stol(text, &used);
    if (used == text.size() && v >= 1 && v <= max) {
      out = static_cast<unsigned>(v);
      return true;
    }
  } catch (...) {
  }
  error = "--" + flag + ": \"" + text + "\" is not a " + what + " (1-" + std::to_string(max) + ")";
  return false;
}

bool parsePort(const std::string& flag, const std::string& text, uint16_t& out, std::string& error) {
  try {
    size_t used = 0;
    long v = std::stol(text, &used);
    if (used == text.size() && v >= 0 && v <= 65535) {
      out = static_cast<uint16_t>(v);
      return true;
    }
  } catch (...) {
  }
  error = "--" + flag + ": \"" + text + "\" is not a port number (0-65535)";
  return false;
}

bool parseBoolFlag(const std::string& flag, const std::string& text, std::optional<bool>& out,
                   std::string& error) {
  if (text == "true" || text == "1") return out = true, true;
  if (text == "false" || text == "0") return out = false, true;
  error = "--" + flag + ": expected true or false, got \"" + text + "\"";
  return false;
}

bool isNamespacedName(const std::string& v) {
  auto slash = v.find('/');
  return slash != std::string::npos && slash > 0 && slash + 1 < v.size() &&
         v.find('/', slash + 1) == std::string::npos;
}

}  // namespace

std::string helpText() {
  std::ostringstream out;
  out << "Usage: atrium [flags]\n"
         "       atrium check DIR|FILE...   validate manifests and exit (0 valid, 1 problems)\n\n"
      << describeFlags();
  return out.str();
}

std::optional<Flags> parseFlags(int argc, char** argv, std::string& error) {
  Flags f;
  if (argc >= 2 && std::string(argv[1]) == "check") {
    f.check = true;
    for (int i = 2; i < argc; ++i) f.check_paths.emplace_back(argv[i]);
    if (f.check_paths.empty()) {
      error = "check: give at least one manifest directory or file";
      return std::nullopt;
    }
    return f;
  }
  po::variables_map vm;
  try {
    const auto description = describeFlags();  // parsed options point into it
    auto parsed = po::command_line_parser(argc, argv).options(description).run();
    po::store(parsed, vm);
    po::notify(vm);
  } catch (const po::error& e) {
    error = e.what();
    return std::nullopt;
  }
  auto str = [&vm](const char* name, std::string& out) {
    if (vm.count(name)) out = vm[name].as<std::string>();
  };
  f.help = vm.count("help") > 0;
  f.version = vm.count("version") > 0;
  str("manifests", f.manifests);
  str("kubeconfig", f.kubeconfig);
  str("ingress-class", f.ingress_class);
  str("watch-namespace", f.watch_namespace);
  str("bind", f.bind);
  str("admin-bind", f.admin_bind);
  str("redis", f.redis);
  str("trusted-proxies", f.trusted_proxies);
  str("default-tls-secret", f.default_tls_secret);
  str("admin-token-file", f.admin_token_file);
  str("state-dir", f.state_dir);
  str("publish-service", f.publish_service);
  str("publish-address", f.publish_address);
  str("lease-namespace", f.lease_namespace);
  str("log-level", f.log_level);
  str("log-format", f.log_format);
  str("access-log", f.access_log);
  if (vm.count("http-port") && !parsePort("http-port", vm["http-port"].as<std::string>(), f.http_port, error)) return std::nullopt;
  if (vm.count("https-port") && !parsePort("https-port", vm["https-port"].as<std::string>(), f.https_port, error)) return std::nullopt;
  if (vm.count("admin-port") && !parsePort("admin-port", vm["admin-port"].as<std::string>(), f.admin_port, error)) return std::nullopt;
  if (vm.count("watch-ingress-without-class") &&
      !parseBoolFlag("watch-ingress-without-class", vm["watch-ingress-without-class"].as<std::string>(),
                     f.watch_ingress_without_class, error)) {
    return std::nullopt;
  }
  if (vm.count("leader-elect") &&
      !parseBoolFlag("leader-elect", vm["leader-elect"].as<std::string>(), f.leader_elect, error)) {
    return std::nullopt;
  }
  if (vm.count("threads") &&
      !parseCount("threads", vm["threads"].as<std::string>(), 1024, "thread count", f.threads, error)) {
    return std::nullopt;
  }
  if (f.threads == 0) f.threads = std::max(1u, std::thread::hardware_concurrency());
  if (vm.count("cache-size")) {
    auto size = common::parseByteSize(vm["cache-size"].as<std::string>());
    if (!size) {
      error = "--cache-size: \"" + vm["cache-size"].as<std::string>() + "\" is not a size (e.g. 256Mi)";
      return std::nullopt;
    }
    f.cache_size = *size;
  }
  if (vm.count("replicas") &&
      !parseCount("replicas", vm["replicas"].as<std::string>(), 10000, "replica count", f.replicas,
                  error)) {
    return std::nullopt;
  }
  if (vm.count("clock-start")) {
    const auto text = vm["clock-start"].as<std::string>();
    auto start = parseUtcTime(text);
    if (!start) {
      error = "--clock-start: \"" + text + "\" is not a UTC time like 2026-11-30T23:59:50Z";
      return std::nullopt;
    }
    f.clock_start = *start;
  }
  if (vm.count("drain-timeout")) {
    auto d = common::parseDuration(vm["drain-timeout"].as<std::string>());
    if (!d) {
      error = "--drain-timeout: \"" + vm["drain-timeout"].as<std::string>() + "\" is not a duration (e.g. 30s)";
      return std::nullopt;
    }
    f.drain_timeout = *d;
  }
  if (vm.count("lease-duration")) {
    auto d = common::parseDuration(vm["lease-duration"].as<std::string>());
    if (!d || *d < std::chrono::seconds(1) || d->count() % 1000 != 0) {
      error = "--lease-duration: \"" + vm["lease-duration"].as<std::string>() +
              "\" is not a whole number of seconds (at least 1s)";
      return std::nullopt;
    }
    f.lease_duration = *d;
  }
  if (!f.publish_address.empty()) {
    controller::k8s::parsePublishAddresses(f.publish_address, error);
    if (!error.empty()) return std::nullopt;
  }
  if (!f.publish_address.empty() && !f.publish_service.empty()) {
    error = "--publish-service and --publish-address are exclusive: pick one source of the address";
    return std::nullopt;
  }
  if (f.log_level != "debug" && f.log_level != "info" && f.log_level != "warn" && f.log_level != "error") {
    error = "--log-level: expected debug, info, warn or error, got \"" + f.log_level + "\"";
    return std::nullopt;
  }
  if (f.log_format != "json" && f.log_format != "text") {
    error = "--log-format: expected json or text, got \"" + f.log_format + "\"";
    return std::nullopt;
  }
  for (auto [flag, value] : {std::pair{"default-tls-secret", &f.default_tls_secret},
                             std::pair{"publish-service", &f.publish_service}}) {
    if (!value->empty() && !isNamespacedName(*value)) {
      error = std::string("--") + flag + ": expected NAMESPACE/NAME, got \"" + *value + "\"";
      return std::nullopt;
    }
  }
  if (!f.redis.empty() && f.redis.rfind("redis://", 0) != 0) {
    error = "--redis: expected redis://[:password@]host:port[/db]";
    return std::nullopt;
  }
  if (!f.manifests.empty() && !f.kubeconfig.empty()) {
    error = "--manifests and --kubeconfig are exclusive: pick one source of configuration";
    return std::nullopt;
  }
  return f;
}

}  // namespace atrium::app
