#include "controller/diagnostic_log.h"

#include <spdlog/spdlog.h>

namespace atrium::controller {

void DiagnosticLog::report(const Diagnostics& diagnostics) {
  std::set<std::string> now;
  for (const auto& d : diagnostics) {
    auto line = d.format();
    if (!reported_.count(line)) {
      if (d.warning) {
        spdlog::warn("{}", line);
      } else {
        spdlog::error("{} (skipped; the rest of the configuration still applies)", line);
      }
    }
    now.insert(std::move(line));
  }
  reported_ = std::move(now);
}

}  // namespace atrium::controller
