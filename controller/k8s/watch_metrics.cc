#include "controller/k8s/watch_metrics.h"

namespace atrium::controller::k8s {

void WatchMetrics::countEvent(const std::string& kind, const std::string& type) {
  std::lock_guard lock(mu_);
  ++events_[{kind, type}];
}

void WatchMetrics::countRestart(const std::string& kind) {
  std::lock_guard lock(mu_);
  ++restarts_[kind];
}

void WatchMetrics::setObjectCount(const std::string& kind, size_t count) {
  std::lock_guard lock(mu_);
  objects_[kind] = count;
}

void WatchMetrics::observeEventToProgrammed(double seconds) {
  std::lock_guard lock(mu_);
  programmed_seconds_sum_ += seconds;
  ++programmed_count_;
}

void WatchMetrics::setLeader(bool leader) {
  std::lock_guard lock(mu_);
  leader_ = leader;
}

void WatchMetrics::countStatusWrite(const std::string& kind, bool ok) {
  std::lock_guard lock(mu_);
  ++status_writes_[{kind, ok ? "ok" : "error"}];
}

std::string WatchMetrics::renderPrometheus() const {
  std::lock_guard lock(mu_);
  std::string out;
  out += "# HELP atrium_kube_watch_events_total Watch events received from the API server.\n";
  out += "# TYPE atrium_kube_watch_events_total counter\n";
  for (const auto& [key, n] : events_) {
    out += "atrium_kube_watch_events_total{kind=\"" + key.first + "\",type=\"" + key.second +
           "\"} " + std::to_string(n) + "\n";
  }
  out +=
      "# HELP atrium_kube_watch_restarts_total Watches re-established after an error, a "
      "dropped connection or 410 Gone.\n";
  out += "# TYPE atrium_kube_watch_restarts_total counter\n";
  for (const auto& [kind, n] : restarts_) {
    out += "atrium_kube_watch_restarts_total{kind=\"" + kind + "\"} " + std::to_string(n) + "\n";
  }
  out += "# HELP atrium_kube_objects Objects held in memory per kind (Secrets: referenced only).\n";
  out += "# TYPE atrium_kube_objects gauge\n";
  for (const auto& [kind, n] : objects_) {
    out += "atrium_kube_objects{kind=\"" + kind + "\"} " + std::to_string(n) + "\n";
  }
  out +=
      "# HELP atrium_kube_event_to_programmed_seconds From an API event to the snapshot built "
      "from it being handed to the proxy.\n";
  out += "# TYPE atrium_kube_event_to_programmed_seconds summary\n";
  out += "atrium_kube_event_to_programmed_seconds_sum " + std::to_string(programmed_seconds_sum_) +
         "\n";
  out +=
      "atrium_kube_event_to_programmed_seconds_count " + std::to_string(programmed_count_) + "\n";
  out +=
      "# HELP atrium_leader 1 while this replica writes status (holds the leader-election "
      "Lease, or runs without election).\n";
  out += "# TYPE atrium_leader gauge\n";
  out += std::string("atrium_leader ") + (leader_ ? "1" : "0") + "\n";
  out += "# HELP atrium_kube_status_writes_total Status subresource writes by kind and result.\n";
  out += "# TYPE atrium_kube_status_writes_total counter\n";
  for (const auto& [key, n] : status_writes_) {
    out += "atrium_kube_status_writes_total{kind=\"" + key.first + "\",result=\"" + key.second +
           "\"} " + std::to_string(n) + "\n";
  }
  return out;
}

}  // namespace atrium::controller::k8s
