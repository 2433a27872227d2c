#pragma once
// Canary Ingresses (nginx.ingress.kubernetes.io/canary: "true"), as ingress-nginx reads them.
// A canary has no routes of its own: for each of its paths it shares the traffic of the main
// route, the one that a main Ingress (of our class, not a canary, in the same namespace) serves
// for the same host and path. The main route's backend becomes a weighted split (main
// total-W, canary W); canary-by-header and canary-by-cookie become routes with a header match
// (more header matches win, so they come first) that copy the main route, policies included,
// and send to the canary ("always", the value or the pattern) or pin to the main backend
// ("never"). ingress-nginx's precedence is header, then cookie, then weight.
#include <string>
#include <vector>

#include "controller/translator/field_reader.h"

namespace atrium::controller::translator {

struct TranslationContext;

// canary-weight, canary-by-header and the other keys a canary reads (without the prefix;
// "canary" itself is not one of them).
bool isCanaryKey(const std::string& key);
// canary: "true" (atrium.dev/ or nginx.ingress.kubernetes.io/).
bool isCanaryIngress(const KubeObject& ingress);

// Applies `canaries` (Ingresses of our class) to the main routes already in ctx.hosts: called
// once every other Ingress is translated. A canary path without a main route is an error on
// the canary and is left out: a canary never takes a path for itself. Runs on every
// translation (never cached): the main routes it changes may come from the cache.
void applyIngressCanaries(TranslationContext& ctx, const std::vector<const KubeObject*>& canaries);

}  // namespace atrium::controller::translator
