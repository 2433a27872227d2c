#pragma once
// An APIRoute's policy.cache (SPEC §3.2) → config::CachePolicy. Every problem is an error at its
// exact field path and nothing is returned for it: the caller then leaves the route (or rule)
// out, as it does for an invalid timeout, rather than serve it with a cache that was not asked
// for (one that keys too little could hand one caller's response to another).
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "controller/translator/field_reader.h"
#include "src/config/snapshot.h"

namespace atrium::controller::translator {

// The CRD's bounds, so an object means the same in a cluster and in manifests mode.
inline constexpr size_t kMaxCacheVary = 16;
inline constexpr size_t kMaxCacheKeyQueryParams = 32;
inline constexpr size_t kMaxCacheKeyQueryParamLength = 256;

// The object at `path`, applied field by field on top of `base` (the route-wide cache when a
// rule writes its own, else the IR defaults): what the object does not write is inherited.
// Lists (methods, vary, keyQueryParams) replace the inherited ones whole, and are stored sorted
// without duplicates so that equal sets make equal snapshots.
std::optional<config::CachePolicy> readCachePolicy(FieldReader& r, const nlohmann::json& cache,
                                                   const std::string& path,
                                                   config::CachePolicy base = {});

}  // namespace atrium::controller::translator
