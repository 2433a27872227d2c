#pragma once
// Parsing of the human units used in manifests and flags. Both planes use these.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace atrium::common {

// Go-style durations ("1h30m", "500ms", "2s", "1.5s", units ns/us/µs/ms/s/m/h, a unit-less "0")
// and the SPEC's period shorthands ("1s", "1m", "1h", "1d"); rounded to milliseconds. With
// `bare_number_unit_ms` > 0, a plain number ("60") is accepted and multiplied by it (ingress-nginx
// timeouts are plain seconds). Negative or overflowing → nullopt.
std::optional<std::chrono::milliseconds> parseDuration(std::string_view text,
                                                       int64_t bare_number_unit_ms = 0);

// Byte sizes: "1024", "10k"/"10K"/"10Ki", "8m"/"8M"/"8Mi", "1g"/"1G"/"1Gi" (powers of 1024, as
// nginx and Kubernetes quantities read them), "10MB" (powers of 1000 for the SI forms "kB/MB/GB").
std::optional<uint64_t> parseByteSize(std::string_view text);

}  // namespace atrium::common
