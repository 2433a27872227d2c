#pragma once
// Watches a manifests directory (recursively, with inotify) and calls back once per burst of
// changes, after a short holdoff, so an editor's write-rename-chmod sequence or a `cp -r` of many
// files causes one reload. New subdirectories are watched as they appear.
// Lives on, and calls back on, the io_context passed at construction (the control-plane thread).
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>

namespace boost::asio {
class io_context;
}

namespace atrium::controller::manifests {

class DirectoryWatcher {
 public:
  using Callback = std::function<void()>;

  DirectoryWatcher(boost::asio::io_context& io, std::filesystem::path root, Callback on_change,
                   std::chrono::milliseconds holdoff = std::chrono::milliseconds(100));
  ~DirectoryWatcher();
  DirectoryWatcher(const DirectoryWatcher&) = delete;
  DirectoryWatcher& operator=(const DirectoryWatcher&) = delete;

  // Starts watching; returns false (and logs why) when inotify cannot be set up, in which case
  // the caller falls back to SIGHUP-driven reloads only.
  bool start();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace atrium::controller::manifests
