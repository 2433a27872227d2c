#include "controller/k8s/status_writer.h"

#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "controller/k8s/api_client.h"
#include "controller/k8s/informer.h"
#include "controller/k8s/status_patch.h"
#include "controller/k8s/watch_metrics.h"

namespace atrium::controller::k8s {

namespace {

std::string keyOf(const translator::ObjectStatus& s) { return s.kind + " " + s.ns + "/" + s.name; }

std::string resourceVersionOf(const KubeObject& o) {
  const auto& md = o.body.value("metadata", nlohmann::json::object());
  return md.is_object() ? md.value("resourceVersion", "") : "";
}

const ResourceKind* resourceKind(const std::string& kind) {
  for (const auto& k : watchedKinds()) {
    if (k.kind == kind) return &k;
  }
  return nullptr;
}

std::pair<std::string, std::string> splitNamespacedName(const std::string& text) {
  auto slash = text.find('/');
  if (slash == std::string::npos) return {"default", text};
  return {text.substr(0, slash), text.substr(slash + 1)};
}

}  // namespace

// A failed write is tried again after a pause (the API server may be restarting).
class StatusWriter::Retry {
 public:
  explicit Retry(boost::asio::io_context& io) : timer(io) {}
  boost::asio::steady_timer timer;
  bool armed = false;
};

StatusWriter::StatusWriter(boost::asio::io_context& io, ApiClient& client,
                           const ObjectStore& objects, const ObjectStore& services,
                           Options options, WatchMetrics& metrics)
    : io_(io),
      client_(client),
      objects_(objects),
      services_(services),
      options_(std::move(options)),
      metrics_(metrics),
      retry_(std::make_unique<Retry>(io)) {}

StatusWriter::~StatusWriter() {
  for (auto& [key, request] : in_flight_) request->cancel();
  retry_->timer.cancel();
}

void StatusWriter::update(std::vector<translator::ObjectStatus> statuses, bool programmed) {
  programmed_ = programmed;
  desired_.clear();
  for (auto& s : statuses) {
    std::string key = keyOf(s);
    desired_.emplace(std::move(key), std::move(s));
  }
  // Forget write bookkeeping of objects that are gone or no longer ours.
  for (auto it = written_at_version_.begin(); it != written_at_version_.end();) {
    it = desired_.count(it->first) ? std::next(it) : written_at_version_.erase(it);
  }
  reconcile();
}

void StatusWriter::setEnabled(bool enabled) {
  if (enabled == enabled_) return;
  enabled_ = enabled;
  if (!enabled) {
    ++epoch_;
    for (auto& [key, request] : in_flight_) request->cancel();
    in_flight_.clear();
    queue_.clear();
    queued_.clear();
    written_at_version_.clear();
    return;
  }
  reconcile();
}

std::optional<nlohmann::json> StatusWriter::ingressAddresses() const {
  if (options_.publish_service.empty()) {
    if (options_.publish_addresses.empty()) return std::nullopt;
    return options_.publish_addresses;
  }
  auto [ns, name] = splitNamespacedName(options_.publish_service);
  const KubeObject* service = services_.find("Service", ns, name);
  if (!service) return std::nullopt;  // not known (yet): leave Ingress status as it is
  return serviceAddresses(*service);
}

std::optional<nlohmann::json> StatusWriter::patchFor(const translator::ObjectStatus& status) const {
  const KubeObject* object = objects_.find(status.kind, status.ns, status.name);
  if (!object) return std::nullopt;
  if (status.kind == "Ingress") {
    auto addresses = ingressAddresses();
    if (!addresses) return std::nullopt;
    return ingressStatusPatch(*object, *addresses);
  }
  if (status.kind == "APIRoute") {
    translator::ObjectStatus effective = status;
    if (!programmed_) {
      for (auto& c : effective.conditions) {
        if (c.type == "Programmed" && c.status) {
          c = {"Programmed", false, "Rejected",
               "the proxy refused the configuration; the previous one is still served"};
        }
      }
    }
    return apiRouteStatusPatch(*object, effective, rfc3339Now());
  }
  return std::nullopt;
}

void StatusWriter::reconcile() {
  if (!enabled_) return;
  if (!options_.publish_service.empty() && !warned_missing_service_) {
    auto [ns, name] = splitNamespacedName(options_.publish_service);
    if (!services_.find("Service", ns, name)) {
      warned_missing_service_ = true;
      spdlog::warn("--publish-service {}: no such Service (yet); Ingress status is not written",
                   options_.publish_service);
    }
  }
  for (const auto& [key, status] : desired_) {
    if (queued_.count(key) || in_flight_.count(key)) continue;
    const KubeObject* object = objects_.find(status.kind, status.ns, status.name);
    if (!object) continue;
    auto written = written_at_version_.find(key);
    if (written != written_at_version_.end()) {
      if (written->second == resourceVersionOf(*object)) continue;  // our write not seen yet
      written_at_version_.erase(written);
    }
    if (!patchFor(status)) continue;
    queue_.push_back(key);
    queued_.insert(key);
  }
  pump();
}

void StatusWriter::pump() {
  while (enabled_ && in_flight_.size() < options_.max_in_flight && !queue_.empty()) {
    std::string key = std::move(queue_.front());
    queue_.pop_front();
    queued_.erase(key);
    send(key);
  }
}

void StatusWriter::send(const std::string& key) {
  auto it = desired_.find(key);
  if (it == desired_.end()) return;
  const auto& status = it->second;
  const KubeObject* object = objects_.find(status.kind, status.ns, status.name);
  const ResourceKind* kind = resourceKind(status.kind);
  if (!object || !kind) return;
  // Computed now, not when queued: the object may have changed meanwhile.
  auto patch = patchFor(status);
  if (!patch) return;
  const std::string path =
      collectionPath(*kind, status.ns) + "/" + encodeQueryValue(status.name) + "/status";
  const std::string version = resourceVersionOf(*object);
  const std::string kind_name = status.kind;
  in_flight_[key] = client_.write(
      ApiClient::Write::MergePatch, path, *patch,
      [this, key, version, kind_name, epoch = epoch_](ApiResponse response) {
        if (epoch != epoch_) return;  // disabled meanwhile: this answer is no longer ours
        in_flight_.erase(key);
        if (response.ok()) {
          metrics_.countStatusWrite(kind_name, true);
          written_at_version_[key] = version;
        } else if (response.status == 404) {
          // Deleted since: its DELETED event is on its way.
        } else {
          metrics_.countStatusWrite(kind_name, false);
          spdlog::warn("status of {}: write failed: {}", key, response.describe());
          if (!retry_->armed) {
            retry_->armed = true;
            retry_->timer.expires_after(std::chrono::seconds(2));
            retry_->timer.async_wait([this](boost::system::error_code ec) {
              if (ec) return;
              retry_->armed = false;
              reconcile();
            });
          }
        }
        pump();
      });
}

}  // namespace atrium::controller::k8s
