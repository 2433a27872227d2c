#pragma once
// A rule's `aggregate` (SPEC §5.5) → config::Aggregate. Every problem is an error at its exact
// field path and nothing is returned: the rule is then left out, as for any invalid rule, rather
// than answer with a bundle other than the one written.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "controller/translator/field_reader.h"
#include "controller/translator/translation_context.h"
#include "src/config/snapshot.h"

namespace atrium::controller::translator {

// The CRD's bounds.
inline constexpr size_t kMaxAggregateCalls = 16;
inline constexpr uint64_t kMaxAggregateCallBody = 16 * 1024 * 1024;

std::optional<config::Aggregate> readAggregate(TranslationContext& ctx, FieldReader& r,
                                               const KubeObject& object,
                                               const nlohmann::json& aggregate,
                                               const std::string& path);

}  // namespace atrium::controller::translator
