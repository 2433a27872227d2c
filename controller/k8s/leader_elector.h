#pragma once
// Leader election on a coordination.k8s.io/v1 Lease, the way Kubernetes' own controllers do
// it: the holder renews spec.renewTime every retry period; the others watch the record and
// take it over once it has not changed for leaseDurationSeconds *as measured by their own
// clock* (never by comparing timestamps across machines). A leader that cannot renew within
// the renew deadline (shorter than the lease duration) steps down before anyone else may take
// over, so two replicas never both believe they lead. On shutdown the holder releases the
// Lease so a successor takes over at once.
// Threading: everything on the control-plane io_context; on_change is called there.
#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

namespace boost::asio {
class io_context;
}

namespace atrium::controller::k8s {

class ApiClient;
class ApiRequest;

class LeaderElector {
 public:
  struct Options {
    std::string lease_namespace = "default";
    std::string lease_name = "atrium-leader";
    std::string identity;  // unique per process: "<pod or host>_<random>"
    std::chrono::milliseconds lease_duration{15'000};
    std::chrono::milliseconds renew_deadline{10'000};
    std::chrono::milliseconds retry_period{2'000};
  };

  // Times derived from one lease duration as client-go's defaults relate (15s/10s/2s).
  static Options timingsFor(std::chrono::milliseconds lease_duration, Options base);

  LeaderElector(boost::asio::io_context& io, ApiClient& client, Options options,
                std::function<void(bool leading)> on_change);
  ~LeaderElector();

  void start();
  // Gives the Lease up if held (holder cleared, duration 1s) and calls `done` when that write
  // finished or failed; stops trying to acquire either way.
  void release(std::function<void()> done);
  bool leading() const { return leading_; }
  const Options& options() const { return options_; }

 private:
  // Writes `lease` back without a holder. On a 409 with `retry`, reads the Lease again and, if
  // it still names this replica, releases that version once more.
  void writeRelease(nlohmann::json lease, bool retry, std::function<void()> done);
  class Timer;
  void tick();
  void onRead(unsigned status, const nlohmann::json& lease);
  void tryWrite(nlohmann::json lease, bool create, bool takeover);
  void setLeading(bool leading);
  void schedule(std::chrono::milliseconds after);
  std::string path(bool collection) const;

  boost::asio::io_context& io_;
  ApiClient& client_;
  Options options_;
  std::function<void(bool)> on_change_;
  std::unique_ptr<Timer> timer_;
  std::shared_ptr<ApiRequest> request_;
  bool leading_ = false;
  bool stopped_ = false;
  // The last Lease record seen, and when (our clock) it last changed.
  std::string observed_record_;
  std::chrono::steady_clock::time_point observed_at_{};
  std::chrono::steady_clock::time_point last_renew_{};
  nlohmann::json held_;  // the Lease as last written by us while leading
};

// "<POD_NAME or hostname>_<8 random hex digits>".
std::string defaultLeaderIdentity();
// --lease-namespace, else POD_NAMESPACE, else the service-account namespace file, else default.
std::string defaultLeaseNamespace(
    const std::string& flag,
    const std::string& mount_dir = "/var/run/secrets/kubernetes.io/serviceaccount");

}  // namespace atrium::controller::k8s
