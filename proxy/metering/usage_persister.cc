#include "proxy/metering/usage_persister.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "proxy/metering/calendar.h"

namespace atrium::proxy::metering {

namespace {

bool writeAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    off += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

UsagePersister::UsagePersister(std::filesystem::path dir, UsageStore& store)
    : dir_(std::move(dir)), store_(store) {}

UsagePersister::~UsagePersister() { stop(); }

void UsagePersister::load() {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) throw std::runtime_error("--state-dir " + dir_.string() + ": " + ec.message());
  if (::access(dir_.c_str(), W_OK) != 0) {
    throw std::runtime_error("--state-dir " + dir_.string() + ": not writable");
  }
  std::ifstream in(file());
  if (!in) return;  // first start
  try {
    store_.load(nlohmann::json::parse(in));
    store_.takeDirty();
  } catch (const std::exception& e) {
    throw std::runtime_error("--state-dir: " + file().string() + " is not a usage file written by "
                             "atrium (" + e.what() + "); move it away to start from zero");
  }
  spdlog::info("usage counters loaded from {}", file().string());
}

void UsagePersister::start() {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "atrium-usage");
    run();
  });
}

void UsagePersister::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  flush();
}

void UsagePersister::run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, kFlushInterval, [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    flush();
    lock.lock();
  }
}

bool UsagePersister::flush() {
  if (!store_.takeDirty()) return true;
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  store_.prune(dayId(now - int64_t{kRetentionDays} * 86'400));
  const std::string data = store_.toJson().dump() + "\n";
  const auto tmp = dir_ / "usage.json.tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  bool ok = fd >= 0 && writeAll(fd, data) && ::fsync(fd) == 0;
  const int err = errno;
  if (fd >= 0) ::close(fd);
  ok = ok && ::rename(tmp.c_str(), file().c_str()) == 0;
  if (ok) {
    // The rename itself is durable only once the directory is synced.
    int dfd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
    return true;
  }
  spdlog::error("usage: cannot write {}: {}", file().string(), std::strerror(err ? err : errno));
  store_.markDirty();  // the next tick retries
  return false;
}

}  // namespace atrium::proxy::metering
