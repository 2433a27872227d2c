#include "controller/translator/cache_reader.h"

#include <algorithm>
#include <cctype>

#include "controller/translator/unit_reader.h"
#include "controller/translator/validation.h"

namespace atrium::controller::translator {

namespace {

constexpr size_t kMaxCacheMethods = 9;  // the CRD's enum, each once

void sortUnique(std::vector<std::string>& list) {
  std::sort(list.begin(), list.end());
  list.erase(std::unique(list.begin(), list.end()), list.end());
}

// methods: upper-cased (a manifest's get means GET; the CRD's enum refuses it in a cluster,
// so nothing else can differ), each a method the gateway knows.
void readMethods(FieldReader& r, const nlohmann::json& cache, const std::string& path,
                 config::CachePolicy& out) {
  const auto* methods = r.array(cache, path, "methods");
  if (!methods) return;
  const std::string mpath = FieldReader::join(path, "methods");
  if (methods->empty() || methods->size() > kMaxCacheMethods) {
    r.error(mpath, "needs 1 to 9 methods");
    return;
  }
  std::vector<std::string> list;
  for (size_t i = 0; i < methods->size(); ++i) {
    const auto& m = (*methods)[i];
    std::string method = m.is_string() ? m.get<std::string>() : "";
    for (auto& c : method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (!isMethod(method)) {
      r.error(FieldReader::index(mpath, i),
              "must be an HTTP method (GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, "
              "PATCH)");
      continue;
    }
    list.push_back(std::move(method));
  }
  sortUnique(list);
  out.methods = std::move(list);
}

// vary: request header names, lower-case as the data plane compares them.
void readVary(FieldReader& r, const nlohmann::json& cache, const std::string& path,
              config::CachePolicy& out) {
  const auto* vary = r.array(cache, path, "vary");
  if (!vary) return;
  const std::string vpath = FieldReader::join(path, "vary");
  if (vary->size() > kMaxCacheVary) {
    r.error(vpath, "holds at most 16 header names");
    return;
  }
  std::vector<std::string> list;
  for (size_t i = 0; i < vary->size(); ++i) {
    const auto& v = (*vary)[i];
    if (!v.is_string() || !isHeaderName(v.get<std::string>()) ||
        v.get<std::string>().size() > 256) {
      r.error(FieldReader::index(vpath, i), "must be an HTTP header name");
      continue;
    }
    std::string name = v.get<std::string>();
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    list.push_back(std::move(name));
  }
  sortUnique(list);
  out.vary = std::move(list);
}

// keyQueryParams: written, only these parameters (maybe none) make up the key, by name as the
// query spells them (case-sensitive); absent, the whole query does.
void readKeyQueryParams(FieldReader& r, const nlohmann::json& cache, const std::string& path,
                        config::CachePolicy& out) {
  const auto* params = r.array(cache, path, "keyQueryParams");
  if (!params) return;
  const std::string kpath = FieldReader::join(path, "keyQueryParams");
  if (params->size() > kMaxCacheKeyQueryParams) {
    r.error(kpath, "holds at most 32 names");
    return;
  }
  std::vector<std::string> list;
  for (size_t i = 0; i < params->size(); ++i) {
    const auto& p = (*params)[i];
    if (!p.is_string() || p.get<std::string>().empty() ||
        p.get<std::string>().size() > kMaxCacheKeyQueryParamLength) {
      r.error(FieldReader::index(kpath, i), "must be a query parameter name (1-256 characters)");
      continue;
    }
    list.push_back(p.get<std::string>());
  }
  sortUnique(list);
  out.key_whole_query = false;
  out.key_query_params = std::move(list);
}

}  // namespace

std::optional<config::CachePolicy> readCachePolicy(FieldReader& r, const nlohmann::json& cache,
                                                   const std::string& path,
                                                   config::CachePolicy base) {
  const size_t errors_before = r.errorCount();
  r.unknownFields(cache, path,
                  {"ttl", "methods", "vary", "respectCacheControl", "staleIfError", "maxObjectSize",
                   "keyQueryParams", "shareAcrossConsumers", "cacheSetCookie"});
  config::CachePolicy out = std::move(base);
  // ttl 0 is allowed: then only what the response itself says makes it fresh.
  if (auto v = readDurationMs(r, cache, path, "ttl", ZeroDuration::Allowed)) out.ttl_ms = *v;
  readMethods(r, cache, path, out);
  readVary(r, cache, path, out);
  if (auto v = r.boolean(cache, path, "respectCacheControl")) out.respect_cache_control = *v;
  if (auto v = readDurationMs(r, cache, path, "staleIfError", ZeroDuration::Allowed)) {
    out.stale_if_error_ms = *v;
  }
  if (auto v = readByteSize(r, cache, path, "maxObjectSize")) out.max_object_bytes = *v;
  readKeyQueryParams(r, cache, path, out);
  // Off by default: one consumer's response must not be served to another (shareAcrossConsumers)
  // and a Set-Cookie (a session) must not be handed to every later caller (cacheSetCookie).
  if (auto v = r.boolean(cache, path, "shareAcrossConsumers")) out.share_across_consumers = *v;
  if (auto v = r.boolean(cache, path, "cacheSetCookie")) out.cache_set_cookie = *v;
  if (r.errorCount() != errors_before) return std::nullopt;
  return out;
}

}  // namespace atrium::controller::translator
