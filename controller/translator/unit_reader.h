#pragma once
// Durations and byte sizes as manifests write them (src/common/units.h parses the text), read at
// a field path so that a bad value is an error naming that field. Shared by the APIRoute policy
// readers: timeouts, cache, retries, circuitBreaker, healthCheck, maxRequestBodySize.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "controller/translator/field_reader.h"

namespace atrium::controller::translator {

// What a duration field may be: zero means "none" for some (cache.staleIfError, retries.backoff)
// and is meaningless for others (a zero timeout would fail every request).
enum class ZeroDuration { Refused, Allowed };

// The IR holds milliseconds in 32 bits: about 49 days.
inline constexpr int64_t kMaxDurationMs = 4'294'967'295;

// parent[key]: Go syntax ("500ms", "1m30s", "1.5s") or 1s/1m/1h/1d, in whole milliseconds. A
// positive duration below 1 ms ("250us") counts as 1 ms rather than as zero, as the CRD's
// "greater than zero" rule sees it. Absent → nullopt without a report; unparseable, zero when
// refused, or above kMaxDurationMs → nullopt and an error at path.key.
std::optional<uint32_t> readDurationMs(FieldReader& r, const nlohmann::json& parent,
                                       const std::string& path, const char* key,
                                       ZeroDuration zero = ZeroDuration::Refused);

// parent[key]: a number of bytes or a size string ("1024", "10Ki", "8Mi", "10MB"), as the CRD's
// int-or-string byte sizes. Absent → nullopt without a report; anything else → an error.
std::optional<uint64_t> readByteSize(FieldReader& r, const nlohmann::json& parent,
                                     const std::string& path, const char* key);

}  // namespace atrium::controller::translator
