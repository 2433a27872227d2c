#include "src/app/app.h"

#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fstream>
#include <iostream>
#include <optional>

#include "controller/k8s/cluster_source.h"
#include "controller/k8s/kubeconfig.h"
#include "controller/k8s/leader_elector.h"
#include "controller/k8s/status_patch.h"
#include "controller/manifests/manifest_loader.h"
#include "controller/manifests/manifests_source.h"
#include "controller/translator/translator.h"
#include "proxy/admin/admin_server.h"
#include "proxy/observability/metrics.h"
#include "proxy/proxy_engine.h"

namespace atrium::app {

namespace {

std::string readToken(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("--admin-token-file " + path + ": cannot be read");
  std::string token((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) {
    token.pop_back();
  }
  if (token.empty()) throw std::runtime_error("--admin-token-file " + path + ": is empty");
  return token;
}

}  // namespace

int runCheck(const Flags& flags) {
  std::vector<std::filesystem::path> paths(flags.check_paths.begin(), flags.check_paths.end());
  auto loaded = controller::manifests::loadManifests(paths);
  controller::translator::TranslatorOptions options;
  options.ingress_class = flags.ingress_class;
  options.watch_without_class = flags.watch_ingress_without_class.value_or(true);
  auto result = controller::translator::translate(loaded.objects, options);
  size_t errors = 0, warnings = 0;
  for (const auto* list : {&loaded.diagnostics, &result.diagnostics}) {
    for (const auto& d : *list) {
      std::cout << d.format() << "\n";
      (d.warning ? warnings : errors)++;
    }
  }
  size_t routes = 0;
  for (const auto& vh : result.snapshot.virtual_hosts) routes += vh.routes.size();
  std::cerr << "atrium check: " << loaded.objects.size() << " objects, " << routes
            << " routes on " << result.snapshot.virtual_hosts.size() << " hosts, " << errors
            << " errors, " << warnings << " warnings\n";
  return errors == 0 ? 0 : 1;
}

int runGateway(const Flags& flags) {
  const bool cluster_mode = flags.manifests.empty();
  proxy::ProxyOptions proxy_options;
  proxy_options.bind = flags.bind;
  proxy_options.http_port = flags.http_port;
  proxy_options.https_port = flags.https_port;
  proxy_options.threads = flags.threads;
  proxy_options.access_log = flags.access_log;
  proxy_options.redis = flags.redis;
  proxy_options.replicas = flags.replicas;
  proxy_options.trusted_proxies = flags.trusted_proxies;
  proxy_options.state_dir = flags.state_dir;
  proxy_options.cache_size = flags.cache_size;
  if (flags.clock_start) {
    proxy_options.clock_offset_s =
        *flags.clock_start - std::chrono::duration_cast<std::chrono::seconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
  }
  proxy::AdminOptions admin_options;
  admin_options.bind = flags.admin_bind;
  admin_options.port = flags.admin_port;

  try {
    if (!flags.admin_token_file.empty()) admin_options.token = readToken(flags.admin_token_file);
    // Read before any listener opens, so a bad kubeconfig is one error line and nothing else.
    std::optional<controller::k8s::ClusterConfig> cluster_config;
    if (cluster_mode) {
      cluster_config = flags.kubeconfig.empty() ? controller::k8s::loadInClusterConfig()
                                                : controller::k8s::loadKubeconfig(flags.kubeconfig);
    }
    proxy::ProxyEngine engine(proxy_options);
    proxy::AdminServer admin(admin_options, engine);
    engine.start();
    admin.start();
    engine.protectAdminPort(admin.port());

    boost::asio::io_context control;
    controller::translator::TranslatorOptions options;
    options.ingress_class = flags.ingress_class;
    options.watch_namespace = flags.watch_namespace;
    options.default_tls_secret = flags.default_tls_secret;
    // In a cluster, classless objects usually belong to another controller: opt in explicitly.
    options.watch_without_class = flags.watch_ingress_without_class.value_or(!cluster_mode);

    std::shared_ptr<const config::ConfigSnapshot> last;
    // Returns whether the proxy serves this snapshot (false: refused, the previous one stays).
    auto sink = [&](std::shared_ptr<const config::ConfigSnapshot> snapshot) -> bool {
      // Equal snapshot → nothing published (and no generation bump).
      if (last && *snapshot == *last) {
        spdlog::debug("configuration unchanged");
        return true;
      }
      std::string error;
      if (engine.publish(snapshot, &error)) {
        last = snapshot;
        size_t routes = 0;
        for (const auto& vh : snapshot->virtual_hosts) routes += vh.routes.size();
        spdlog::info("configuration generation {} applied: {} hosts, {} routes, {} clusters",
                     engine.metrics().config_generation.load(), snapshot->virtual_hosts.size(),
                     routes, snapshot->clusters.size());
        // Controller mode: ready once every informer synced and that view is programmed, so
        // a new replica never answers 404 for routes that exist.
        admin.setReady(true);
        return true;
      }
      spdlog::error("configuration rejected, keeping the previous one: {}", error);
      return false;
    };
    std::unique_ptr<controller::manifests::ManifestsSource> manifests;
    std::unique_ptr<controller::k8s::ClusterSource> cluster;
    if (cluster_mode) {
      controller::k8s::ClusterSource::Options cluster_options;
      cluster_options.default_tls_secret = flags.default_tls_secret;
      cluster_options.status.publish_service = flags.publish_service;
      if (!flags.publish_address.empty()) {
        std::string error;
        cluster_options.status.publish_addresses =
            controller::k8s::parsePublishAddresses(flags.publish_address, error);
      }
      // Leader election only matters in a cluster, where it is on unless turned off.
      cluster_options.leader_elect = flags.leader_elect.value_or(true);
      controller::k8s::LeaderElector::Options leader;
      leader.lease_namespace = controller::k8s::defaultLeaseNamespace(flags.lease_namespace);
      leader.lease_name = flags.ingress_class + "-leader";
      leader.identity = controller::k8s::defaultLeaderIdentity();
      cluster_options.leader =
          controller::k8s::LeaderElector::timingsFor(flags.lease_duration, leader);
      cluster = std::make_unique<controller::k8s::ClusterSource>(
          control, std::move(*cluster_config), options, sink, cluster_options);
      engine.metrics().setExtraRenderer(cluster->metricsRenderer());
      cluster->start();
    } else {
      manifests = std::make_unique<controller::manifests::ManifestsSource>(
          control, flags.manifests, options,
          [&sink](std::shared_ptr<const config::ConfigSnapshot> snapshot) {
            sink(std::move(snapshot));
          });
      if (!manifests->start()) return 1;
      admin.setReady(engine.hasConfig());
    }

    boost::asio::signal_set signals(control, SIGINT, SIGTERM, SIGHUP);
    boost::asio::steady_timer release_deadline(control);
    std::function<void(boost::system::error_code, int)> on_signal =
        [&](boost::system::error_code ec, int signo) {
          if (ec) return;
          if (signo == SIGHUP) {
            if (manifests) {
              spdlog::info("SIGHUP: re-reading manifests");
              manifests->reload();
            }
            signals.async_wait(on_signal);
            return;
          }
          spdlog::info("{}: draining (up to {} ms)", signo == SIGTERM ? "SIGTERM" : "SIGINT",
                       flags.drain_timeout.count());
          admin.setReady(false);
          if (!cluster) return control.stop();
          // Hand the Lease over before draining, so a successor writes status at once; a
          // hung API server gets two seconds, not the whole drain.
          release_deadline.expires_after(std::chrono::seconds(2));
          release_deadline.async_wait([&](boost::system::error_code ec) {
            if (!ec) control.stop();
          });
          cluster->shutdown([&] { control.stop(); });
        };
    signals.async_wait(on_signal);
    control.run();
    engine.drain(flags.drain_timeout);
    admin.stop();
    spdlog::info("stopped");
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "atrium: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace atrium::app
