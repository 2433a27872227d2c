#pragma once
// A reference to an upstream as APIRoutes write it — `service: {name, port}` or `url` — in a
// rule's backends and in an aggregate's calls, resolved to a cluster of the snapshot.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "controller/translator/backend_resolver.h"
#include "controller/translator/field_reader.h"
#include "controller/translator/translation_context.h"
#include "src/config/snapshot.h"

namespace atrium::controller::translator {

// Exactly one of `service` or `url` in `ref` (at `path`). nullopt after an error (a malformed
// reference, an unusable url); a Service that cannot be resolved now is a warning and an empty
// cluster (its requests answer 500) — it may appear later.
std::optional<config::WeightedBackend> readBackendRef(TranslationContext& ctx, FieldReader& r,
                                                      const KubeObject& object,
                                                      const nlohmann::json& ref,
                                                      const std::string& path, uint32_t weight,
                                                      const std::optional<UpstreamTls>& tls);

}  // namespace atrium::controller::translator
