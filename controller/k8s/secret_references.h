#pragma once
// Which Secrets the declared objects refer to, so that controller mode keeps only those in
// memory (SPEC §7): a gateway that holds every Secret of the cluster is a bigger prize for
// anyone who can read its memory or a core dump, and costs memory in large clusters.
#include <set>
#include <string>

#include "controller/store/object_store.h"

namespace atrium::controller::k8s {

// "namespace/name" of every Secret referred to by an Ingress (spec.tls[].secretName, and the
// auth-secret annotation of its own namespace), an
// APIRoute or an APIConsumer (any `secretName` string or `*SecretRef`/`secretRef` object's
// `name` in their spec, in the object's own namespace), plus `default_tls_secret` ("NS/NAME",
// may be empty). Generic on purpose: a new Secret-bearing field is covered without a change.
std::set<std::string> referencedSecrets(const ObjectStore& objects,
                                        const std::string& default_tls_secret);

}  // namespace atrium::controller::k8s
