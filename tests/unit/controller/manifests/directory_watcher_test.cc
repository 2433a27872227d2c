#include "controller/manifests/directory_watcher.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

namespace atrium::controller::manifests {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::temp_directory_path() /
            ("atrium-watcher-" + std::string(info ? info->name() : "test") + "-" +
             std::to_string(::getpid()) + "-" + std::to_string(std::random_device()()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const fs::path& path() const { return path_; }

  void write(const std::string& relative, const std::string& content) const {
    std::ofstream(path_ / relative) << content;
  }

 private:
  fs::path path_;
};

// Runs the io_context until `done` holds or `timeout` passes; returns whether `done` held.
template <typename Pred>
bool runUntil(boost::asio::io_context& io, Pred done, std::chrono::milliseconds timeout = 5s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    io.run_for(10ms);
    if (io.stopped()) io.restart();
  }
  return done();
}

constexpr auto kHoldoff = 50ms;

TEST(DirectoryWatcherTest, FailsWhenTheRootIsMissing) {
  boost::asio::io_context io;
  DirectoryWatcher watcher(io, fs::temp_directory_path() / "atrium-no-such-dir-for-watcher", [] {});
  EXPECT_FALSE(watcher.start());
}

TEST(DirectoryWatcherTest, BurstOfWritesCallsBackOnce) {
  TempDir dir;
  boost::asio::io_context io;
  int calls = 0;
  DirectoryWatcher watcher(
      io, dir.path(), [&] { ++calls; }, kHoldoff);
  ASSERT_TRUE(watcher.start());

  for (int i = 0; i < 5; ++i)
    dir.write("f" + std::to_string(i) + ".yaml", "a: " + std::to_string(i));
  EXPECT_TRUE(runUntil(io, [&] { return calls >= 1; }));
  // Long enough for any stray second callback of the same burst to show up.
  io.run_for(kHoldoff * 4);
  EXPECT_EQ(calls, 1);

  // A later, separate change is a new burst.
  dir.write("f0.yaml", "a: changed");
  EXPECT_TRUE(runUntil(io, [&] { return calls >= 2; }));
  io.run_for(kHoldoff * 4);
  EXPECT_EQ(calls, 2);
}

TEST(DirectoryWatcherTest, NoticesDeletesAndRenames) {
  TempDir dir;
  dir.write("a.yaml", "a: 1");
  boost::asio::io_context io;
  int calls = 0;
  DirectoryWatcher watcher(
      io, dir.path(), [&] { ++calls; }, kHoldoff);
  ASSERT_TRUE(watcher.start());

  fs::rename(dir.path() / "a.yaml", dir.path() / "b.yaml");
  EXPECT_TRUE(runUntil(io, [&] { return calls == 1; }));
  fs::remove(dir.path() / "b.yaml");
  EXPECT_TRUE(runUntil(io, [&] { return calls == 2; }));
}

TEST(DirectoryWatcherTest, NoticesFilesInNewSubdirectories) {
  TempDir dir;
  boost::asio::io_context io;
  int calls = 0;
  DirectoryWatcher watcher(
      io, dir.path(), [&] { ++calls; }, kHoldoff);
  ASSERT_TRUE(watcher.start());

  fs::create_directories(dir.path() / "new");
  EXPECT_TRUE(runUntil(io, [&] { return calls == 1; }));
  dir.write("new/route.yaml", "a: 1");
  EXPECT_TRUE(runUntil(io, [&] { return calls == 2; }));

  // Deeper still: the new directory's own new subdirectory is watched too.
  fs::create_directories(dir.path() / "new/deeper");
  EXPECT_TRUE(runUntil(io, [&] { return calls == 3; }));
  dir.write("new/deeper/x.yaml", "a: 1");
  EXPECT_TRUE(runUntil(io, [&] { return calls == 4; }));
}

TEST(DirectoryWatcherTest, WatchesExistingNestedDirectories) {
  TempDir dir;
  fs::create_directories(dir.path() / "a/b/c");
  boost::asio::io_context io;
  int calls = 0;
  DirectoryWatcher watcher(
      io, dir.path(), [&] { ++calls; }, kHoldoff);
  ASSERT_TRUE(watcher.start());

  dir.write("a/b/c/x.yaml", "a: 1");
  EXPECT_TRUE(runUntil(io, [&] { return calls == 1; }));
}

TEST(DirectoryWatcherTest, WatchesASingleFileAcrossRenameOver) {
  TempDir dir;
  dir.write("app.yaml", "a: 1");
  dir.write("other.yaml", "a: 1");
  boost::asio::io_context io;
  int calls = 0;
  DirectoryWatcher watcher(
      io, dir.path() / "app.yaml", [&] { ++calls; }, kHoldoff);
  ASSERT_TRUE(watcher.start());

  // Other files in the same directory are not ours.
  dir.write("other.yaml", "a: 2");
  io.run_for(kHoldoff * 4);
  EXPECT_EQ(calls, 0);

  // Editors save by writing a temporary file and renaming it over the original.
  dir.write("app.yaml.tmp", "a: 2");
  fs::rename(dir.path() / "app.yaml.tmp", dir.path() / "app.yaml");
  EXPECT_TRUE(runUntil(io, [&] { return calls == 1; }));
  dir.write("app.yaml.tmp", "a: 3");
  fs::rename(dir.path() / "app.yaml.tmp", dir.path() / "app.yaml");
  EXPECT_TRUE(runUntil(io, [&] { return calls == 2; }));
}

TEST(DirectoryWatcherTest, NoCallbackAfterDestruction) {
  TempDir dir;
  boost::asio::io_context io;
  int calls = 0;
  {
    DirectoryWatcher watcher(
        io, dir.path(), [&] { ++calls; }, 200ms);
    ASSERT_TRUE(watcher.start());
    dir.write("a.yaml", "a: 1");
    io.run_for(20ms);  // the events are read and the holdoff timer is armed
  }
  io.restart();
  io.run_for(400ms);
  EXPECT_EQ(calls, 0);
}

TEST(DirectoryWatcherTest, DestroyedBeforeTheIoContextEverRuns) {
  TempDir dir;
  int calls = 0;
  {
    boost::asio::io_context io;
    DirectoryWatcher watcher(
        io, dir.path(), [&] { ++calls; }, kHoldoff);
    ASSERT_TRUE(watcher.start());
    dir.write("a.yaml", "a: 1");
  }  // watcher first, then the io_context with the watcher's handlers still queued
  EXPECT_EQ(calls, 0);
}

TEST(DirectoryWatcherTest, CallbackMayDestroyTheWatcher) {
  TempDir dir;
  boost::asio::io_context io;
  int calls = 0;
  std::unique_ptr<DirectoryWatcher> watcher;
  watcher = std::make_unique<DirectoryWatcher>(
      io, dir.path(),
      [&] {
        ++calls;
        watcher.reset();
      },
      kHoldoff);
  ASSERT_TRUE(watcher->start());
  dir.write("a.yaml", "a: 1");
  EXPECT_TRUE(runUntil(io, [&] { return calls == 1; }));
  dir.write("b.yaml", "a: 1");
  io.run_for(kHoldoff * 4);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(watcher, nullptr);
}

}  // namespace
}  // namespace atrium::controller::manifests
