// auth-type: basic → AuthPolicy basic + one consumer per htpasswd user. Only bcrypt hashes reach
// the snapshot (the proxy checks them with crypt(3)); nothing of the Secret is ever written to a
// diagnostic but user names.
#include "controller/translator/ingress_basic_auth.h"

#include <set>

#include "controller/translator/translation_context.h"
#include "src/common/base64.h"

namespace atrium::controller::translator {

namespace {

// A bcrypt hash in the form crypt(3) checks, or a description of the format that is not one.
// $2y$ (htpasswd -B) is the same algorithm as $2b$ and is stored as such.
bool normaliseHash(std::string& hash, std::string& format) {
  const bool bcrypt_prefix =
      hash.rfind("$2y$", 0) == 0 || hash.rfind("$2b$", 0) == 0 || hash.rfind("$2a$", 0) == 0;
  if (bcrypt_prefix && hash.size() == 60) {
    if (hash[2] == 'y') hash[2] = 'b';
    return true;
  }
  if (bcrypt_prefix) {
    format = "a malformed bcrypt hash";
  } else if (hash.rfind("{SHA}", 0) == 0) {
    format = "{SHA} (SHA-1)";
  } else if (hash.rfind("$apr1$", 0) == 0) {
    format = "$apr1$ (Apache MD5)";
  } else if (hash.rfind("{PLAIN}", 0) == 0) {
    format = "{PLAIN} (plain text)";
  } else if (hash.size() > 3 && hash[0] == '$' && hash.find('$', 1) != std::string::npos) {
    format = "crypt(3) " + hash.substr(0, hash.find('$', 1) + 1);
  } else {
    format = "crypt(3) DES or plain text";
  }
  return false;
}

std::string trimmed(std::string s) {
  while (!s.empty() &&
         (s.back() == '\r' || s.back() == '\n' || s.back() == ' ' || s.back() == '\t')) {
    s.pop_back();
  }
  size_t start = s.find_first_not_of(" \t");
  return start == std::string::npos ? std::string() : s.substr(start);
}

std::optional<std::string> decoded(const nlohmann::json& value) {
  if (!value.is_string()) return std::nullopt;
  try {
    return common::decodeBase64(value.get<std::string>());
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace

std::string ingressConsumerNamespace(const KubeObject& ingress) { return ingress.displayName(); }

std::optional<IngressBasicAuth> readIngressBasicAuth(TranslationContext& ctx, FieldReader& r,
                                                     const KubeObject& ingress,
                                                     const IngressBasicAuthAnnotations& a) {
  const std::string& field = a.secret_field.empty() ? a.type_field : a.secret_field;
  if (a.secret.empty()) {
    r.error(a.type_field, "needs auth-secret; the Ingress's routes answer 503");
    return std::nullopt;
  }
  std::string ns = ingress.ns, name = a.secret;
  if (auto slash = a.secret.find('/'); slash != std::string::npos) {
    ns = a.secret.substr(0, slash);
    name = a.secret.substr(slash + 1);
  }
  // Least privilege: whoever may write an Ingress may not make it read the credentials of
  // another namespace.
  if (ns != ingress.ns) {
    r.error(field, "the Secret must be in the Ingress's namespace \"" + ingress.ns +
                       "\"; the Ingress's routes answer 503");
    return std::nullopt;
  }
  const KubeObject* secret = ctx.findSecret(ns, name);
  if (!secret) {
    r.error(field, "Secret " + ns + "/" + name + " not found; the Ingress's routes answer 503");
    return std::nullopt;
  }
  // user → hash, in the Secret's order.
  std::vector<std::pair<std::string, std::string>> lines;
  const auto& data = jsonAt(secret->body, "data");
  if (a.auth_map) {
    if (!data.is_object() || data.empty()) {
      r.error(field, "Secret " + ns + "/" + name + " has no data; the Ingress's routes answer 503");
      return std::nullopt;
    }
    for (const auto& [user, value] : data.items()) {
      auto hash = decoded(value);
      if (!hash) {
        r.warning(field, "user \"" + user + "\": the value is not base64; this user cannot log in");
        continue;
      }
      lines.emplace_back(user, trimmed(*hash));
    }
  } else {
    auto file = decoded(jsonAt(data, "auth"));
    if (!file) {
      r.error(field, "Secret " + ns + "/" + name +
                         " has no base64 data key \"auth\" (an htpasswd file); the Ingress's "
                         "routes answer 503");
      return std::nullopt;
    }
    size_t start = 0, number = 0;
    while (start < file->size()) {
      size_t end = file->find('\n', start);
      if (end == std::string::npos) end = file->size();
      const std::string line = trimmed(file->substr(start, end - start));
      start = end + 1;
      ++number;
      if (line.empty() || line[0] == '#') continue;
      const size_t colon = line.find(':');
      if (colon == std::string::npos || colon == 0) {
        // The line may be a bare password: its content is never repeated.
        r.warning(field, "line " + std::to_string(number) +
                             " of the htpasswd file is not "
                             "\"user:hash\" and is ignored");
        continue;
      }
      // nginx's format is name:password[:comment].
      const size_t end_of_hash = line.find(':', colon + 1);
      lines.emplace_back(
          line.substr(0, colon),
          line.substr(colon + 1, end_of_hash == std::string::npos ? std::string::npos
                                                                  : end_of_hash - colon - 1));
    }
  }
  IngressBasicAuth out;
  out.policy.basic = true;
  out.policy.basic_realm = a.realm;
  out.policy.consumer_namespace = ingressConsumerNamespace(ingress);
  std::set<std::string> users;
  for (auto& [user, hash] : lines) {
    if (!users.insert(user).second) {
      r.warning(field, "user \"" + user + "\" is listed more than once; the first one is used");
      continue;
    }
    std::string format;
    if (!normaliseHash(hash, format)) {
      r.warning(field, "user \"" + user + "\": the password hash is " + format +
                           ", which Atrium does not check; this user cannot log in (write the "
                           "line with `htpasswd -B` for bcrypt)");
      continue;
    }
    config::Consumer c;
    c.ns = out.policy.consumer_namespace;
    c.name = user;
    c.basic_username = user;
    c.basic_password = std::move(hash);
    out.consumers.push_back(std::move(c));
  }
  if (out.consumers.empty()) {
    r.warning(field, "Secret " + ns + "/" + name +
                         " has no usable user; every request to this Ingress is answered 401");
  }
  return out;
}

}  // namespace atrium::controller::translator
