#include "controller/translator/translation_cache.h"

#include <map>

#include "controller/translator/field_reader.h"
#include "controller/translator/translation_context.h"

namespace atrium::controller::translator {

struct TranslationCache::Entry {
  std::string version;  // "uid/resourceVersion"
  ObjectRecord record;
};

struct TranslationCache::State {
  std::map<std::string, Entry> entries;  // by displayName, from the previous pass
  std::map<std::string, Entry> next;     // filled during this pass
  // The entry being recorded and where its diagnostics begin.
  Entry recording;
  size_t diagnostics_begin = 0;
  size_t reused = 0;
  std::map<std::string, config::TlsCertificate> last_good_certificates;
};

namespace {

std::string versionOf(const KubeObject& o) {
  const auto& md = jsonAt(o.body, "metadata");
  const auto& uid = jsonAt(md, "uid");
  const auto& rv = jsonAt(md, "resourceVersion");
  if (!uid.is_string() || !rv.is_string()) return "";
  return uid.get<std::string>() + "/" + rv.get<std::string>();
}

}  // namespace

TranslationCache::TranslationCache() : state_(std::make_unique<State>()) {}
TranslationCache::~TranslationCache() = default;

bool TranslationCache::replay(TranslationContext& ctx, const KubeObject& object) {
  const std::string key = object.displayName();
  auto it = state_->entries.find(key);
  if (it == state_->entries.end()) return false;
  const std::string version = versionOf(object);
  if (version.empty() || it->second.version != version) return false;
  const ObjectRecord& record = it->second.record;
  // The same lookups must give the same answers; they also make the resolver build the
  // clusters this object's routes use.
  for (const auto& lookup : record.lookups) {
    auto now = lookup.is_url ? ctx.backends.url(lookup.url, lookup.weight, lookup.tls)
                             : ctx.backends.service(lookup.ns, lookup.name, lookup.port,
                                                    lookup.weight, lookup.tls.value_or(UpstreamTls{}));
    if (now != lookup.result) return false;
  }
  const uint32_t rank = ctx.rankOf(object);
  for (const auto& [host, route] : record.routes) {
    config::Route copy = route;
    copy.object_rank = rank;
    ctx.hosts[host].push_back(std::move(copy));
  }
  ctx.diagnostics.insert(ctx.diagnostics.end(), record.diagnostics.begin(),
                         record.diagnostics.end());
  ctx.served[key].unresolved = record.unresolved;
  state_->next.emplace(key, std::move(it->second));
  state_->entries.erase(it);
  ++state_->reused;
  return true;
}

void TranslationCache::begin(TranslationContext& ctx, const KubeObject& object) {
  state_->recording = Entry{versionOf(object), {}};
  state_->diagnostics_begin = ctx.diagnostics.size();
  ctx.recording = &state_->recording.record;
}

void TranslationCache::end(TranslationContext& ctx, const KubeObject& object) {
  ctx.recording = nullptr;
  Entry entry = std::move(state_->recording);
  state_->recording = {};
  // Nothing to recognise it by next time, or it read what a replay cannot check.
  if (entry.version.empty() || entry.record.uncacheable) return;
  entry.record.diagnostics.assign(ctx.diagnostics.begin() + state_->diagnostics_begin,
                                  ctx.diagnostics.end());
  auto served = ctx.served.find(object.displayName());
  if (served != ctx.served.end()) entry.record.unresolved = served->second.unresolved;
  state_->next.insert_or_assign(object.displayName(), std::move(entry));
}

std::map<std::string, config::TlsCertificate>& TranslationCache::lastGoodCertificates() {
  return state_->last_good_certificates;
}

size_t TranslationCache::finishPass() {
  state_->entries = std::move(state_->next);
  state_->next.clear();
  return std::exchange(state_->reused, 0);
}

}  // namespace atrium::controller::translator
