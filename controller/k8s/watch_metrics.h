#pragma once
// Counters of the informers' watch streams, rendered as Prometheus text for /metrics.
// Written on the control-plane thread, read by the admin server's thread: hence the mutex
// (a few increments per API event, far from any hot path).
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

namespace atrium::controller::k8s {

class WatchMetrics {
 public:
  void countEvent(const std::string& kind, const std::string& type);
  // A watch that ended abnormally (error, 410 Gone, dropped connection) and is re-established.
  void countRestart(const std::string& kind);
  // How many objects of `kind` are held (for Secrets: only the referenced ones).
  void setObjectCount(const std::string& kind, size_t count);
  // Time from the first API event of a burst to the snapshot built from it being handed to
  // the proxy (holdoff + translation + publication).
  void observeEventToProgrammed(double seconds);
  // Whether this replica writes status (the Lease holder, or every replica without election).
  void setLeader(bool leader);
  // One status write (PATCH of .../status); ok=false for any failure.
  void countStatusWrite(const std::string& kind, bool ok);

  // atrium_kube_watch_events_total{kind,type}, atrium_kube_watch_restarts_total{kind},
  // atrium_kube_objects{kind}, atrium_kube_event_to_programmed_seconds (summary: sum, count),
  // atrium_leader and atrium_kube_status_writes_total{kind,result}.
  std::string renderPrometheus() const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, uint64_t> events_;
  std::map<std::string, uint64_t> restarts_;
  std::map<std::string, size_t> objects_;
  double programmed_seconds_sum_ = 0;
  uint64_t programmed_count_ = 0;
  bool leader_ = false;
  std::map<std::pair<std::string, std::string>, uint64_t> status_writes_;
};

}  // namespace atrium::controller::k8s
