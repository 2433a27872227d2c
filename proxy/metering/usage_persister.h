#pragma once
// Keeps a UsageStore on disk under --state-dir: loaded at start, written at least every second
// while it changes and once more at shutdown. Each write goes to a temporary file that is
// fsynced and then renamed over usage.json, so a crash (kill -9, power loss) leaves either the
// previous complete file or the new one — never a torn one. What a crash can lose is bounded by
// the flush interval: the requests counted since the last write.
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>

#include "proxy/metering/usage_store.h"

namespace atrium::proxy::metering {

class UsagePersister {
 public:
  static constexpr std::chrono::milliseconds kFlushInterval{500};
  // Usage older than this many days is dropped from the file.
  static constexpr int kRetentionDays = 400;

  UsagePersister(std::filesystem::path dir, UsageStore& store);
  ~UsagePersister();

  // Creates the directory if needed and merges an existing usage.json into the store. Throws
  // std::runtime_error with a one-line reason (unwritable directory, corrupt file).
  void load();
  void start();
  // Stops the thread after one last write. Idempotent.
  void stop();
  // Writes now if anything changed; returns false (and logs) on an I/O error.
  bool flush();

  std::filesystem::path file() const { return dir_ / "usage.json"; }

 private:
  void run();

  std::filesystem::path dir_;
  UsageStore& store_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace atrium::proxy::metering
