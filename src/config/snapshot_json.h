#pragma once
// JSON codec for the configuration IR: used by /config, golden tests and snapshot dumps.
// Decoding throws nlohmann::json::exception on a malformed document (callers are parsing
// boundaries).
#include <nlohmann/json_fwd.hpp>

#include "src/config/snapshot.h"

namespace atrium::config {

nlohmann::json toJson(const ConfigSnapshot& snapshot);
ConfigSnapshot snapshotFromJson(const nlohmann::json& doc);

const char* toString(PathType type);
const char* toString(StringMatchType type);

}  // namespace atrium::config
