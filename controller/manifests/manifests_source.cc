#include "controller/manifests/manifests_source.h"

#include <spdlog/spdlog.h>

#include "controller/manifests/directory_watcher.h"
#include "controller/manifests/manifest_loader.h"
#include "controller/translator/translation_cache.h"

namespace atrium::controller::manifests {

ManifestsSource::ManifestsSource(boost::asio::io_context& io, std::filesystem::path dir,
                                 translator::TranslatorOptions options, Sink sink)
    : io_(io),
      dir_(std::move(dir)),
      options_(std::move(options)),
      sink_(std::move(sink)),
      translation_cache_(std::make_unique<translator::TranslationCache>()) {}

ManifestsSource::~ManifestsSource() = default;

bool ManifestsSource::start() {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir_, ec) && !std::filesystem::is_regular_file(dir_, ec)) {
    spdlog::error("--manifests {}: not a readable directory or file", dir_.string());
    return false;
  }
  reload();
  watcher_ = std::make_unique<DirectoryWatcher>(io_, dir_, [this] { reload(); });
  if (!watcher_->start()) {
    spdlog::warn("watching {} failed; send SIGHUP to apply changes", dir_.string());
  }
  return true;
}

void ManifestsSource::reload() {
  LoadResult loaded = loadManifests(dir_);
  // The cache only remembers certificates here (manifest objects carry no resourceVersion):
  // a Secret file broken by an edit keeps its last good certificate in service.
  translator::TranslationResult result =
      translator::translate(loaded.objects, options_, translation_cache_.get());
  Diagnostics all = std::move(loaded.diagnostics);
  all.insert(all.end(), result.diagnostics.begin(), result.diagnostics.end());
  diagnostic_log_.report(all);
  result.diagnostics = std::move(all);
  spdlog::debug("manifests: {} objects loaded from {}", loaded.objects.size(), dir_.string());
  sink_(std::make_shared<const config::ConfigSnapshot>(std::move(result.snapshot)));
}

}  // namespace atrium::controller::manifests
