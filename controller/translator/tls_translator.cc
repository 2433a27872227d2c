// TLS of the objects of our class: which certificate each host name presents (Ingress
// spec.tls, APIRoute spec.tls) and which hosts verify client certificates. Runs after the
// routes, over all served objects oldest first, so the oldest claim on a host name wins.
#include <algorithm>
#include <set>

#include "controller/translator/field_reader.h"
#include "controller/translator/translation_context.h"
#include "controller/translator/validation.h"

namespace atrium::controller::translator {

namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

struct Claim {
  config::TlsHost host;
  std::string owner;  // "Ingress ns/name"
};

class TlsHosts {
 public:
  TlsHosts(TranslationContext& ctx) : ctx_(ctx) {}

  void claim(FieldReader& r, const std::string& field, const std::string& hostname,
             const std::string& certificate,
             const std::optional<config::ClientValidation>& client_validation) {
    const std::string owner = r.kubeObject().displayName();
    auto [it, inserted] =
        claims_.try_emplace(hostname, Claim{{hostname, certificate, client_validation}, owner});
    if (inserted || it->second.owner == owner) return;
    if (it->second.host.certificate != certificate ||
        it->second.host.client_validation != client_validation) {
      r.warning(field, "TLS for host \"" + hostname + "\" is already configured by " +
                           it->second.owner + ", which is older and wins");
    }
  }

  std::vector<config::TlsHost> take() {
    std::vector<config::TlsHost> out;
    for (auto& [name, claim] : claims_) out.push_back(std::move(claim.host));
    return out;
  }

 private:
  TranslationContext& ctx_;
  std::map<std::string, Claim> claims_;  // sorted by host name
};

void certificateProblem(TranslationContext& ctx, FieldReader& r, const KubeObject& object,
                        const std::string& field, const std::string& problem) {
  r.warning(field, problem);
  ctx.served[object.displayName()].certificate_problems.push_back(field + ": " + problem);
}

void ingressTls(TranslationContext& ctx, const KubeObject& object, TlsHosts& hosts) {
  FieldReader r(object, ctx.diagnostics);
  const auto& tls = jsonAt(jsonAt(object.body, "spec"), "tls");
  if (!tls.is_array()) return;
  for (size_t i = 0; i < tls.size(); ++i) {
    const std::string path = FieldReader::index("spec.tls", i);
    const auto& secret = jsonAt(tls[i], "secretName");
    const auto& names = jsonAt(tls[i], "hosts");
    if (!secret.is_string() || secret.get<std::string>().empty()) continue;  // default cert
    if (!names.is_array() || names.empty()) {
      r.warning(FieldReader::join(path, "hosts"),
                "no hosts: this certificate is not used (list the hosts it is for)");
      continue;
    }
    auto result = ctx.certificates.certificate(object.ns, secret.get<std::string>());
    if (!result.problem.empty()) {
      certificateProblem(ctx, r, object, FieldReader::join(path, "secretName"), result.problem);
    }
    if (result.certificate.empty()) continue;
    for (size_t j = 0; j < names.size(); ++j) {
      const std::string field = FieldReader::index(FieldReader::join(path, "hosts"), j);
      const std::string host = names[j].is_string() ? lower(names[j].get<std::string>()) : "";
      if (auto err = checkHostname(host); !err.empty() || host.empty()) {
        r.warning(field, host.empty() ? "must be a host name" : err);
        continue;
      }
      hosts.claim(r, field, host, result.certificate, std::nullopt);
    }
  }
}

void apiRouteTls(TranslationContext& ctx, const KubeObject& object, TlsHosts& hosts) {
  FieldReader r(object, ctx.diagnostics);
  const auto& spec = jsonAt(object.body, "spec");
  const auto& tls = jsonAt(spec, "tls");
  if (!tls.is_object()) return;
  std::optional<config::ClientValidation> client_validation;
  if (const auto& cv = jsonAt(tls, "clientValidation"); cv.is_object()) {
    const auto& ref = jsonAt(cv, "caSecretRef");
    const auto& name = jsonAt(ref, "name");
    const auto& key = jsonAt(ref, "key");
    const auto& optional = jsonAt(cv, "optional");
    config::ClientValidation validation;
    validation.optional = optional.is_boolean() && optional.get<bool>();
    std::string problem;
    if (!name.is_string() || !key.is_string()) {
      problem = "caSecretRef needs name and key";
    } else {
      validation.ca_name = object.ns + "/" + name.get<std::string>() + "/" + key.get<std::string>();
      if (auto pem = ctx.certificates.caBundle(object.ns, name.get<std::string>(),
                                               key.get<std::string>(), problem)) {
        validation.ca_pem = *pem;
      }
    }
    if (!problem.empty()) {
      // No usable CA: the hosts refuse every TLS client rather than serve them unverified.
      certificateProblem(ctx, r, object, "spec.tls.clientValidation.caSecretRef",
                         problem + "; TLS connections for these hosts are refused");
      validation.ca_pem.clear();
      validation.optional = false;
    }
    client_validation = std::move(validation);
  }
  const auto& secret = jsonAt(tls, "secretName");
  std::string certificate;
  if (secret.is_string() && !secret.get<std::string>().empty()) {
    auto result = ctx.certificates.certificate(object.ns, secret.get<std::string>());
    if (!result.problem.empty()) {
      certificateProblem(ctx, r, object, "spec.tls.secretName", result.problem);
    }
    certificate = result.certificate;
  }
  if (certificate.empty() && !client_validation) return;
  const auto& names = jsonAt(spec, "hostnames");
  if (!names.is_array() || names.empty()) {
    r.warning("spec.tls", "the route has no hostnames: its TLS settings apply to no host");
    return;
  }
  for (size_t j = 0; j < names.size(); ++j) {
    if (!names[j].is_string() || names[j].get<std::string>().empty()) continue;
    const std::string host = lower(names[j].get<std::string>());
    if (!checkHostname(host).empty()) continue;  // reported with the routes
    // Client validation without a certificate of its own: the default certificate, verified.
    hosts.claim(r, FieldReader::index("spec.hostnames", j), host, certificate, client_validation);
  }
}

}  // namespace

void translateTls(TranslationContext& ctx, config::ConfigSnapshot& snapshot) {
  std::vector<const KubeObject*> objects;
  for (const auto& [name, served] : ctx.served) {
    if (served.object) objects.push_back(served.object);
  }
  std::sort(objects.begin(), objects.end(), [&ctx](const KubeObject* a, const KubeObject* b) {
    return ctx.rankOf(*a) < ctx.rankOf(*b);
  });
  // An object refused as a whole (errors and nothing served) claims no TLS host either.
  std::set<std::string> serving, erroneous;
  for (const auto& vh : snapshot.virtual_hosts) {
    for (const auto& r : vh.routes) serving.insert(r.source);
  }
  for (const auto& d : ctx.diagnostics) {
    if (!d.warning) erroneous.insert(d.object);
  }
  std::erase_if(objects, [&](const KubeObject* o) {
    const std::string name = o->displayName();
    return erroneous.count(name) && !serving.count(name);
  });
  TlsHosts hosts(ctx);
  for (const KubeObject* o : objects) {
    if (o->kind == "Ingress") ingressTls(ctx, *o, hosts);
    if (o->kind == "APIRoute") apiRouteTls(ctx, *o, hosts);
  }
  if (!ctx.options.default_tls_secret.empty()) {
    const auto& ref = ctx.options.default_tls_secret;
    const auto slash = ref.find('/');
    auto result = ctx.certificates.certificate(ref.substr(0, slash), ref.substr(slash + 1));
    if (!result.problem.empty()) {
      ctx.diagnostics.push_back(
          {"", "", "--default-tls-secret",
           result.problem + (result.certificate.empty() ? " (the self-signed one is used)" : ""),
           true});
    }
    snapshot.default_certificate = result.certificate;
  }
  snapshot.tls_hosts = hosts.take();
  snapshot.invalid_tls_secrets = static_cast<uint32_t>(ctx.certificates.invalidCount());
  snapshot.certificates = ctx.certificates.take();
}

}  // namespace atrium::controller::translator
