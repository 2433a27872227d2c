#include "controller/manifests/directory_watcher.h"

#include <spdlog/spdlog.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <set>
#include <system_error>
#include <unordered_map>

namespace atrium::controller::manifests {
namespace {

namespace fs = std::filesystem;

constexpr uint32_t kWatchMask = IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_FROM |
                                IN_MOVED_TO | IN_DELETE_SELF | IN_ATTRIB;

// A writer that never pauses (a log-like file, a slow `cp -r`, a tool rewriting a manifest
// every 100 ms) would postpone the reload forever if every event re-armed the timer; past this
// many holdoffs from a burst's first event the reload happens anyway, so a change is served
// within ~300 ms however busy the directory is.
constexpr int kMaxHoldoffs = 3;

bool isHiddenName(const std::string& name) { return !name.empty() && name[0] == '.'; }

std::string errnoMessage() { return std::error_code(errno, std::generic_category()).message(); }

}  // namespace

// Everything here runs on io_'s thread except `stopped_`, which the destructor may set from
// elsewhere. Pending handlers hold a shared_ptr to the Impl, so the stream, timer and read buffer
// outlive any operation still queued when the DirectoryWatcher goes away.
struct DirectoryWatcher::Impl : std::enable_shared_from_this<Impl> {
  Impl(boost::asio::io_context& io, fs::path root, Callback on_change,
       std::chrono::milliseconds holdoff)
      : io_(io),
        stream_(io),
        timer_(io),
        root_(std::move(root)),
        on_change_(std::move(on_change)),
        holdoff_(holdoff) {}

  bool start();
  void stop();

  void read();
  void onRead(const boost::system::error_code& ec, size_t bytes);
  bool handleEvent(const inotify_event& event);
  void scheduleCallback();

  bool addWatch(const fs::path& dir);
  void watchTree(const fs::path& dir, std::set<fs::path>& visited);
  void forgetTree(const fs::path& dir);

  boost::asio::io_context& io_;
  boost::asio::posix::stream_descriptor stream_;
  boost::asio::steady_timer timer_;
  fs::path root_;
  fs::path watched_dir_;   // root_, or its parent when root_ is a single file
  std::string only_name_;  // when root_ is a single file: the only name in watched_dir_ we track
  Callback on_change_;
  std::chrono::milliseconds holdoff_;
  std::unordered_map<int, fs::path> watches_;  // watch descriptor → directory
  std::atomic<bool> stopped_{false};
  bool started_ = false;
  bool pending_ = false;
  std::chrono::steady_clock::time_point pending_since_;
  uint64_t generation_ = 0;  // bumped on every re-arm; older timer completions are stale
  alignas(inotify_event) std::array<char, 64 * 1024> buffer_;
};

bool DirectoryWatcher::Impl::start() {
  if (started_) return true;
  std::error_code fs_ec;
  auto status = fs::status(root_, fs_ec);
  if (fs_ec) {
    spdlog::warn("manifests watcher: cannot watch {}: {}", root_.string(), fs_ec.message());
    return false;
  }
  if (fs::is_directory(status)) {
    watched_dir_ = root_;
  } else {
    // A single file is edited by rename-over (editors, kubectl cp), which replaces its inode;
    // watching its directory for its name survives that.
    watched_dir_ = root_.has_parent_path() ? root_.parent_path() : fs::path(".");
    only_name_ = root_.filename().string();
  }

  int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) {
    spdlog::warn("manifests watcher: inotify_init1 failed: {}", errnoMessage());
    return false;
  }
  boost::system::error_code ec;
  stream_.assign(fd, ec);
  if (ec) {
    ::close(fd);
    spdlog::warn("manifests watcher: cannot use inotify descriptor: {}", ec.message());
    return false;
  }
  if (!addWatch(watched_dir_)) {
    stream_.close(ec);
    return false;
  }
  if (only_name_.empty()) {
    std::set<fs::path> visited;
    watchTree(watched_dir_, visited);
  }
  started_ = true;
  read();
  return true;
}

void DirectoryWatcher::Impl::stop() {
  // Closing the descriptor drops every inotify watch and aborts the pending read.
  boost::system::error_code ignored;
  timer_.cancel();
  stream_.close(ignored);
  watches_.clear();
}

bool DirectoryWatcher::Impl::addWatch(const fs::path& dir) {
  int wd = inotify_add_watch(stream_.native_handle(), dir.c_str(), kWatchMask | IN_ONLYDIR);
  if (wd < 0) {
    // ENOSPC here means fs.inotify.max_user_watches is exhausted.
    spdlog::warn("manifests watcher: cannot watch {}: {}", dir.string(), errnoMessage());
    return false;
  }
  watches_[wd] = dir;
  return true;
}

// Watches `dir`'s subdirectories (and theirs), skipping hidden ones as the loader does and
// following directory symlinks as the loader does; `visited` breaks symlink loops.
void DirectoryWatcher::Impl::watchTree(const fs::path& dir, std::set<fs::path>& visited) {
  std::error_code ec;
  auto real = fs::canonical(dir, ec);
  if (ec || !visited.insert(real).second) return;
  fs::directory_iterator it(dir, ec);
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const auto& path = it->path();
    if (isHiddenName(path.filename().string())) continue;
    std::error_code status_ec;
    if (!fs::is_directory(it->status(status_ec)) || status_ec) continue;
    if (addWatch(path)) watchTree(path, visited);
  }
}

void DirectoryWatcher::Impl::forgetTree(const fs::path& dir) {
  // The directory moved away (maybe out of the tree): stop hearing about it. If it moved within
  // the tree, the matching IN_MOVED_TO watches it again under its new name.
  const std::string prefix = dir.string() + "/";
  for (auto it = watches_.begin(); it != watches_.end();) {
    const std::string path = it->second.string();
    if (path == dir.string() || path.compare(0, prefix.size(), prefix) == 0) {
      inotify_rm_watch(stream_.native_handle(), it->first);
      it = watches_.erase(it);
    } else {
      ++it;
    }
  }
}

void DirectoryWatcher::Impl::read() {
  // Wait for the next batch of inotify events; the handler keeps this Impl alive.
  stream_.async_read_some(boost::asio::buffer(buffer_),
                          [self = shared_from_this()](const boost::system::error_code& ec,
                                                      size_t bytes) { self->onRead(ec, bytes); });
}

void DirectoryWatcher::Impl::onRead(const boost::system::error_code& ec, size_t bytes) {
  if (stopped_) return;
  if (ec) {
    if (ec != boost::asio::error::operation_aborted) {
      spdlog::warn("manifests watcher: reading inotify events failed, live reload stops: {}",
                   ec.message());
    }
    return;
  }
  // Walk the variable-length records the kernel packed into the buffer.
  bool relevant = false;
  for (size_t offset = 0; offset + sizeof(inotify_event) <= bytes;) {
    // The kernel pads each name so the next record is aligned, and buffer_ is aligned itself.
    const auto* event = reinterpret_cast<const inotify_event*>(buffer_.data() + offset);
    offset += sizeof(inotify_event) + event->len;
    if (offset > bytes) break;
    relevant |= handleEvent(*event);
  }
  if (relevant) scheduleCallback();
  read();
}

// Updates the watch set for the event and says whether it can change what the loader reads.
bool DirectoryWatcher::Impl::handleEvent(const inotify_event& event) {
  if (event.mask & IN_Q_OVERFLOW) {
    // Events were dropped, possibly new directories among them: watch whatever exists now.
    spdlog::warn("manifests watcher: inotify queue overflowed, rescanning {}", root_.string());
    if (only_name_.empty()) {
      std::set<fs::path> visited;
      watchTree(watched_dir_, visited);
    }
    return true;
  }
  auto it = watches_.find(event.wd);
  if (event.mask & IN_IGNORED) {
    // The kernel dropped the watch (directory deleted or rm_watch); the deletion itself was
    // already reported by IN_DELETE / IN_DELETE_SELF.
    if (it != watches_.end()) watches_.erase(it);
    return false;
  }
  // An unknown descriptor is a directory we stopped tracking whose events were already queued;
  // reloading for it costs little.
  if (it == watches_.end()) return true;
  const fs::path dir = it->second;  // copied: watchTree below may rehash watches_
  std::string name = event.len > 0 ? std::string(event.name) : std::string();

  if (event.mask & IN_DELETE_SELF) {
    if (dir == watched_dir_) {
      spdlog::warn("manifests watcher: {} was removed; live reload stops until restart",
                   watched_dir_.string());
    }
    return true;
  }
  if (!only_name_.empty()) return name == only_name_;

  if ((event.mask & IN_ISDIR) && !name.empty() && !isHiddenName(name)) {
    fs::path path = dir / name;
    if (event.mask & (IN_CREATE | IN_MOVED_TO)) {
      // Files written into the new directory before this watch exists raise no event of their
      // own, but the reload this event triggers reads the whole tree, so none is missed.
      if (addWatch(path)) {
        std::set<fs::path> visited;
        watchTree(path, visited);
      }
    } else if (event.mask & IN_MOVED_FROM) {
      forgetTree(path);
    }
  }
  // Hidden names still count: a ConfigMap update is the atomic rename of `..data`.
  return true;
}

void DirectoryWatcher::Impl::scheduleCallback() {
  // Re-arm the holdoff so a burst of events ends in one callback, but never wait beyond
  // kMaxHoldoffs holdoffs from the burst's first event.
  auto now = std::chrono::steady_clock::now();
  if (!pending_) {
    pending_ = true;
    pending_since_ = now;
  }
  timer_.expires_at(std::min(now + holdoff_, pending_since_ + holdoff_ * kMaxHoldoffs));
  // A completion already queued when we re-arm cannot be cancelled; the generation check makes
  // it a no-op so the burst still yields exactly one callback.
  uint64_t generation = ++generation_;
  timer_.async_wait([self = shared_from_this(), generation](const boost::system::error_code& ec) {
    if (ec || self->stopped_ || generation != self->generation_) return;
    self->pending_ = false;
    self->on_change_();
  });
}

DirectoryWatcher::DirectoryWatcher(boost::asio::io_context& io, std::filesystem::path root,
                                   Callback on_change, std::chrono::milliseconds holdoff)
    : impl_(std::make_shared<Impl>(io, std::move(root), std::move(on_change), holdoff)) {}

DirectoryWatcher::~DirectoryWatcher() {
  // Set first so no callback starts after this returns, even if the io_context thread is busy;
  // the descriptor and timer are then closed on that thread (inline when we are on it).
  impl_->stopped_ = true;
  boost::asio::dispatch(impl_->io_, [impl = impl_] { impl->stop(); });
}

bool DirectoryWatcher::start() { return impl_->start(); }

}  // namespace atrium::controller::manifests
