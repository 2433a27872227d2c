#pragma once
// Process logging (not the access log): spdlog to stderr, as text or one JSON object per line.
#include <string>

namespace atrium::common {

// `level`: debug|info|warn|error; `format`: text|json. Returns false for an unknown value.
bool setupLogging(const std::string& level, const std::string& format);

}  // namespace atrium::common
