#include "controller/k8s/leader_elector.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdlib>
#include <fstream>
#include <random>

#include "controller/k8s/api_client.h"
#include "controller/k8s/status_patch.h"

namespace atrium::controller::k8s {

using Clock = std::chrono::steady_clock;

// The retry tick, and a watchdog that ends leadership at the renew deadline even when a
// request to the API server hangs.
class LeaderElector::Timer {
 public:
  explicit Timer(boost::asio::io_context& io) : tick(io), watchdog(io) {}
  boost::asio::steady_timer tick;
  boost::asio::steady_timer watchdog;
};

LeaderElector::Options LeaderElector::timingsFor(std::chrono::milliseconds lease_duration,
                                                 Options base) {
  using std::chrono::milliseconds;
  base.lease_duration = lease_duration;
  base.renew_deadline = lease_duration * 2 / 3;
  base.retry_period = std::max(milliseconds(100), lease_duration * 2 / 15);
  return base;
}

LeaderElector::LeaderElector(boost::asio::io_context& io, ApiClient& client, Options options,
                             std::function<void(bool)> on_change)
    : io_(io),
      client_(client),
      options_(std::move(options)),
      on_change_(std::move(on_change)),
      timer_(std::make_unique<Timer>(io)) {}

LeaderElector::~LeaderElector() {
  stopped_ = true;
  if (request_) request_->cancel();
  timer_->tick.cancel();
  timer_->watchdog.cancel();
}

std::string LeaderElector::path(bool collection) const {
  std::string p = "/apis/coordination.k8s.io/v1/namespaces/" +
                  encodeQueryValue(options_.lease_namespace) + "/leases";
  return collection ? p : p + "/" + encodeQueryValue(options_.lease_name);
}

void LeaderElector::start() {
  spdlog::info("leader election: Lease {}/{} as {}", options_.lease_namespace,
               options_.lease_name, options_.identity);
  tick();
}

void LeaderElector::schedule(std::chrono::milliseconds after) {
  if (stopped_) return;
  timer_->tick.expires_after(after);
  timer_->tick.async_wait([this](boost::system::error_code ec) {
    if (!ec) tick();
  });
}

void LeaderElector::tick() {
  if (stopped_) return;
  request_ = client_.get(path(false), [this](ApiResponse response) {
    request_.reset();
    if (stopped_) return;
    if (!response.ok() && response.status != 404) {
      if (leading_ && Clock::now() - last_renew_ >= options_.renew_deadline) {
        spdlog::warn("leader election: could not renew the Lease ({}); stepping down",
                     response.describe());
        setLeading(false);
      } else if (!leading_) {
        spdlog::debug("leader election: reading the Lease failed: {}", response.describe());
      }
      return schedule(options_.retry_period);
    }
    onRead(response.status, response.body);
  });
}

void LeaderElector::onRead(unsigned status, const nlohmann::json& lease) {
  const auto now = Clock::now();
  const long duration_seconds =
      std::max<long>(1, std::chrono::duration_cast<std::chrono::seconds>(options_.lease_duration)
                            .count());
  if (status == 404) {
    nlohmann::json fresh = {
        {"apiVersion", "coordination.k8s.io/v1"},
        {"kind", "Lease"},
        {"metadata", {{"name", options_.lease_name}, {"namespace", options_.lease_namespace}}},
        {"spec",
         {{"holderIdentity", options_.identity},
          {"leaseDurationSeconds", duration_seconds},
          {"acquireTime", microTimeNow()},
          {"renewTime", microTimeNow()},
          {"leaseTransitions", 0}}}};
    return tryWrite(std::move(fresh), true, true);
  }
  nlohmann::json record = lease;
  if (!record.is_object()) return schedule(options_.retry_period);
  nlohmann::json& spec = record["spec"];
  if (!spec.is_object()) spec = nlohmann::json::object();
  const std::string holder = spec.value("holderIdentity", "");
  const std::string seen = spec.dump();
  if (seen != observed_record_) {
    observed_record_ = seen;
    observed_at_ = now;
  }
  // The holder's own view of the duration counts (it may be configured differently).
  auto their_duration = std::chrono::seconds(spec.value("leaseDurationSeconds", duration_seconds));
  if (holder == options_.identity) {
    spec["renewTime"] = microTimeNow();
    spec["leaseDurationSeconds"] = duration_seconds;
    return tryWrite(std::move(record), false, false);
  }
  if (!holder.empty() && now - observed_at_ < their_duration) {
    if (leading_) {
      spdlog::warn("leader election: the Lease is now held by {}; stepping down", holder);
      setLeading(false);
    }
    return schedule(options_.retry_period);
  }
  // Released, or not renewed for a whole lease duration: take it over.
  spec["holderIdentity"] = options_.identity;
  spec["leaseDurationSeconds"] = duration_seconds;
  spec["acquireTime"] = microTimeNow();
  spec["renewTime"] = microTimeNow();
  spec["leaseTransitions"] = spec.value("leaseTransitions", 0) + 1;
  tryWrite(std::move(record), false, true);
}

void LeaderElector::tryWrite(nlohmann::json lease, bool create, bool takeover) {
  request_ = client_.write(
      create ? ApiClient::Write::Create : ApiClient::Write::Replace, path(create), lease,
      [this, takeover](ApiResponse response) {
        request_.reset();
        if (stopped_) return;
        const auto now = Clock::now();
        if (response.ok()) {
          last_renew_ = now;
          held_ = response.body;
          if (held_.is_object() && held_.contains("spec")) {
            observed_record_ = held_["spec"].dump();
            observed_at_ = now;
          }
          if (takeover || !leading_) {
            spdlog::info("leader election: acquired the Lease {}/{}", options_.lease_namespace,
                         options_.lease_name);
          }
          setLeading(true);
          // Re-armed on every renewal: fires only if renewals stop succeeding.
          timer_->watchdog.expires_after(options_.renew_deadline);
          timer_->watchdog.async_wait([this](boost::system::error_code ec) {
            if (ec || !leading_) return;
            if (Clock::now() - last_renew_ >= options_.renew_deadline) {
              spdlog::warn("leader election: no renewal within {} ms; stepping down",
                           options_.renew_deadline.count());
              setLeading(false);
            }
          });
        } else {
          // 409: someone else wrote the Lease first; the next read tells who holds it.
          if (leading_ && now - last_renew_ >= options_.renew_deadline) {
            spdlog::warn("leader election: could not renew the Lease ({}); stepping down",
                         response.describe());
            setLeading(false);
          } else if (response.status != 409) {
            spdlog::debug("leader election: writing the Lease failed: {}", response.describe());
          }
        }
        schedule(options_.retry_period);
      });
}

void LeaderElector::setLeading(bool leading) {
  if (leading == leading_) return;
  leading_ = leading;
  if (!leading) timer_->watchdog.cancel();
  if (on_change_) on_change_(leading);
}

void LeaderElector::release(std::function<void()> done) {
  stopped_ = true;
  if (request_) request_->cancel();
  request_.reset();
  timer_->tick.cancel();
  if (!leading_ || !held_.is_object()) {
    setLeading(false);
    return done();
  }
  // Stop writing status before the Lease is given up, never after.
  setLeading(false);
  writeRelease(held_, true, std::move(done));
}

void LeaderElector::writeRelease(nlohmann::json lease, bool retry, std::function<void()> done) {
  auto& spec = lease["spec"];
  spec["holderIdentity"] = "";
  spec["leaseDurationSeconds"] = 1;
  spec["renewTime"] = microTimeNow();
  request_ = client_.write(
      ApiClient::Write::Replace, path(false), lease,
      [this, retry, done = std::move(done)](ApiResponse response) mutable {
        request_.reset();
        if (response.ok()) {
          spdlog::info("leader election: released the Lease");
          return done();
        }
        if (response.status == 409 && retry) {
          // A renewal cancelled by release() may still have reached the API server first and
          // changed the Lease's resourceVersion: release the current version if it is ours.
          request_ = client_.get(path(false), [this, done = std::move(done)](ApiResponse current) mutable {
            request_.reset();
            const bool ours = current.ok() && current.body.is_object() &&
                              current.body.contains("spec") && current.body["spec"].is_object() &&
                              current.body["spec"].value("holderIdentity", "") == options_.identity;
            if (ours) return writeRelease(current.body, false, std::move(done));
            spdlog::warn("leader election: releasing the Lease failed: {}", current.ok()
                             ? std::string("another replica holds it now")
                             : current.describe());
            done();
          });
          return;
        }
        spdlog::warn("leader election: releasing the Lease failed: {}", response.describe());
        done();
      });
}

std::string defaultLeaderIdentity() {
  std::string name;
  if (const char* pod = std::getenv("POD_NAME"); pod && *pod) {
    name = pod;
  } else {
    char host[256] = {};
    name = gethostname(host, sizeof(host) - 1) == 0 && host[0] ? host : "atrium";
  }
  std::random_device random;
  char suffix[16];
  std::snprintf(suffix, sizeof(suffix), "_%08x", random());
  return name + suffix;
}

std::string defaultLeaseNamespace(const std::string& flag, const std::string& mount_dir) {
  if (!flag.empty()) return flag;
  if (const char* ns = std::getenv("POD_NAMESPACE"); ns && *ns) return ns;
  std::ifstream in(mount_dir + "/namespace");
  std::string ns;
  if (in && std::getline(in, ns) && !ns.empty()) return ns;
  return "default";
}

}  // namespace atrium::controller::k8s
