#pragma once
// Turns what one translation learned about each object of our class into its status:
// Accepted (was the object, or part of it, taken?), ResolvedRefs (do its backend references
// exist?) and Programmed (is it in the configuration being served?). The reasons follow the
// Gateway API's vocabulary, which users of route objects already know.
#include <vector>

#include "controller/translator/translation_context.h"

namespace atrium::controller::translator {

// Statuses for ctx.served, sorted by kind, namespace and name. `snapshot` is the final
// snapshot (after conflicts were dropped), `diagnostics` every problem reported.
std::vector<ObjectStatus> objectStatuses(const TranslationContext& ctx,
                                         const config::ConfigSnapshot& snapshot,
                                         const Diagnostics& diagnostics);

}  // namespace atrium::controller::translator
