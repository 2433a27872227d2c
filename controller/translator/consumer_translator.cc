// APIConsumer → the consumers the proxy authenticates against (SPEC §3.3). Credentials live in
// Secrets of the consumer's namespace; only digests (API keys, plain passwords) or the bcrypt
// hash reach the snapshot, so key material is never in /config, logs or status. A credential
// that cannot be read is reported and left out; the consumer keeps its others. A plan that
// cannot be read leaves the whole consumer out (see below).
#include <map>

#include "controller/translator/field_reader.h"
#include "controller/translator/plan_reader.h"
#include "controller/translator/translation_context.h"
#include "src/common/base64.h"

namespace atrium::controller::translator {

namespace {

bool isBcrypt(const std::string& s) {
  return s.size() == 60 && (s.rfind("$2a$", 0) == 0 || s.rfind("$2b$", 0) == 0 ||
                            s.rfind("$2y$", 0) == 0);
}

// data[key] of Secret ns/name, decoded; nullopt with a warning at `field` when unusable.
std::optional<std::string> secretValue(TranslationContext& ctx, FieldReader& r,
                                       const std::string& field, const std::string& ns,
                                       const std::string& name, const std::string& key) {
  const KubeObject* secret = ctx.objects.find("Secret", ns, name);
  if (!secret) {
    r.warning(field, "Secret " + ns + "/" + name + " not found; this credential is not usable");
    return std::nullopt;
  }
  const auto& value = jsonAt(jsonAt(secret->body, "data"), key.c_str());
  if (!value.is_string()) {
    r.warning(field, "Secret " + ns + "/" + name + " has no data key \"" + key +
                         "\"; this credential is not usable");
    return std::nullopt;
  }
  try {
    std::string decoded = common::decodeBase64(value.get<std::string>());
    // Secrets written with `echo key | base64` end in a newline nobody types.
    while (!decoded.empty() && (decoded.back() == '\n' || decoded.back() == '\r')) {
      decoded.pop_back();
    }
    if (decoded.empty()) {
      r.warning(field, "Secret " + ns + "/" + name + " data key \"" + key + "\" is empty");
      return std::nullopt;
    }
    return decoded;
  } catch (const std::exception&) {
    r.warning(field, "Secret " + ns + "/" + name + " data key \"" + key + "\" is not base64");
    return std::nullopt;
  }
}

}  // namespace

void translateConsumers(TranslationContext& ctx, config::ConfigSnapshot& snapshot) {
  // Per namespace, who holds which API key / user name first (by name order): a duplicate is
  // reported and not used, so one key never authenticates two consumers.
  std::map<std::string, std::string> key_owner, user_owner;
  for (const auto& [key, object] : ctx.objects.all("APIConsumer")) {
    if (!ctx.inWatchedNamespace(object)) continue;
    FieldReader r(object, ctx.diagnostics);
    const auto* spec = r.object(object.body, "", "spec");
    if (!spec) {
      r.error("spec", "is required");
      continue;
    }
    config::Consumer consumer;
    consumer.ns = object.ns;
    consumer.name = object.name;
    consumer.display_name = r.string(*spec, "spec", "displayName").value_or("");
    if (const auto* groups = r.array(*spec, "spec", "groups")) {
      for (size_t i = 0; i < groups->size(); ++i) {
        const auto& g = (*groups)[i];
        if (!g.is_string() || g.get<std::string>().empty() ||
            g.get<std::string>().find_first_of(", \t\r\n") != std::string::npos) {
          r.warning(FieldReader::index("spec.groups", i), "must be a name without commas or spaces");
          continue;
        }
        consumer.groups.push_back(g.get<std::string>());
      }
    }
    const auto* credentials = r.object(*spec, "spec", "credentials");
    if (credentials) {
      if (const auto* keys = r.array(*credentials, "spec.credentials", "apiKeys")) {
        for (size_t i = 0; i < keys->size(); ++i) {
          const std::string field =
              FieldReader::join(FieldReader::index("spec.credentials.apiKeys", i), "secretRef");
          const auto& ref = jsonAt((*keys)[i], "secretRef");
          const auto& name = jsonAt(ref, "name");
          const auto& k = jsonAt(ref, "key");
          if (!name.is_string() || !k.is_string()) {
            r.warning(field, "needs name and key");
            continue;
          }
          auto value = secretValue(ctx, r, field, object.ns, name.get<std::string>(),
                                   k.get<std::string>());
          if (!value) continue;
          const std::string digest = sha256Hex(*value);
          auto [it, fresh] = key_owner.try_emplace(object.ns + "/" + digest, object.name);
          if (!fresh && it->second != object.name) {
            r.warning(field, "this API key is also APIConsumer " + object.ns + "/" + it->second +
                                 "'s, which keeps it");
            continue;
          }
          consumer.api_key_sha256.push_back(digest);
        }
      }
      if (const auto* basic = r.object(*credentials, "spec.credentials", "basicAuth")) {
        const std::string field = "spec.credentials.basicAuth.secretRef";
        const auto& name = jsonAt(jsonAt(*basic, "secretRef"), "name");
        if (!name.is_string()) {
          r.warning(field, "needs a name");
        } else {
          auto user = secretValue(ctx, r, field, object.ns, name.get<std::string>(), "username");
          auto password =
              user ? secretValue(ctx, r, field, object.ns, name.get<std::string>(), "password")
                   : std::nullopt;
          if (user && user->find(':') != std::string::npos) {
            r.warning(field, "the username must not contain ':'");
          } else if (user && password) {
            auto [it, fresh] = user_owner.try_emplace(object.ns + "/" + *user, object.name);
            if (!fresh && it->second != object.name) {
              r.warning(field, "this user name is also APIConsumer " + object.ns + "/" +
                                   it->second + "'s, which keeps it");
            } else {
              consumer.basic_username = *user;
              consumer.basic_password =
                  isBcrypt(*password) ? *password : "sha256:" + sha256Hex(*password);
            }
          }
        }
      }
      if (const auto* jwt = r.object(*credentials, "spec.credentials", "jwt")) {
        consumer.jwt_subject = r.string(*jwt, "spec.credentials.jwt", "subject").value_or("");
      }
    }
    // An invalid plan is an error and the consumer is left out, unlike an unreadable
    // credential: serving the consumer without the rate limit or quota it was given would let
    // it call without bounds, while leaving it out only makes its calls answer 401 until the
    // plan is fixed (the diagnostics, the log and `atrium check` say why). Read after the
    // credentials on purpose: they stay claimed, so a key it shares with another consumer does
    // not move to that one meanwhile.
    const size_t errors_before_plan = r.errorCount();
    if (const auto* plan = r.object(*spec, "spec", "plan")) {
      if (auto read = readPlan(r, *plan, "spec.plan")) consumer.plan = std::move(*read);
    }
    if (r.errorCount() != errors_before_plan) continue;
    snapshot.consumers.push_back(std::move(consumer));
  }
}

}  // namespace atrium::controller::translator
