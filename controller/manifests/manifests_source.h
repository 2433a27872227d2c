#pragma once
// The manifests mode's control loop: load every manifest under a directory, translate, hand
// the result to the sink; then reload on every change inotify reports (coalesced) and on
// reload() (SIGHUP). Diagnostics are logged when they appear or change, not on every reload.
// Runs on the control-plane io_context passed at construction.
#include <filesystem>
#include <functional>
#include <memory>
#include <set>
#include <string>

#include "controller/diagnostic_log.h"
#include "controller/translator/translator.h"

namespace boost::asio {
class io_context;
}

namespace atrium::controller::manifests {

class DirectoryWatcher;

class ManifestsSource {
 public:
  // Gets each new snapshot (moved out of the translation, never copied: 10,000 routes are MBs).
  using Sink = std::function<void(std::shared_ptr<const config::ConfigSnapshot>)>;

  ManifestsSource(boost::asio::io_context& io, std::filesystem::path dir,
                  translator::TranslatorOptions options, Sink sink);
  ~ManifestsSource();

  // Loads once (calling the sink) and starts watching. Returns false when the directory does
  // not exist or cannot be read (reported), which is fatal at startup.
  bool start();
  void reload();

 private:
  boost::asio::io_context& io_;
  std::filesystem::path dir_;
  translator::TranslatorOptions options_;
  Sink sink_;
  std::unique_ptr<translator::TranslationCache> translation_cache_;
  std::unique_ptr<DirectoryWatcher> watcher_;
  DiagnosticLog diagnostic_log_;
};

}  // namespace atrium::controller::manifests
