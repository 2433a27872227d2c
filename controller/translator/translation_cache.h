#pragma once
// Incremental translation: what each Ingress/APIRoute translated to last time (its routes,
// diagnostics and the backend lookups it made), reused while the object is unchanged.
// An object is unchanged when its uid and resourceVersion are; its backend lookups are replayed
// against the current Services and must give the same answers, so a Service that appears,
// disappears or renames a port re-translates exactly the objects that point at it. The age
// rank of an object may shift (an older object was deleted): it is patched into the routes.
//
// The rule that keeps this correct: a per-object translator reads other objects only through
// TranslationContext methods that record what they read (resolveService, resolveUrl).
// Objects without uid/resourceVersion (manifest files) are never cached.
#include <map>
#include <memory>
#include <string>

#include "src/config/snapshot.h"

namespace atrium::controller {
struct KubeObject;
}

namespace atrium::controller::translator {

struct TranslationContext;

class TranslationCache {
 public:
  TranslationCache();
  ~TranslationCache();
  TranslationCache(const TranslationCache&) = delete;
  TranslationCache& operator=(const TranslationCache&) = delete;

  // Translates `object` with `translate_one` unless a cached result still applies, in which case
  // that result is added to ctx instead. Either way the object's result is kept for next time.
  template <typename F>
  void translate(TranslationContext& ctx, const KubeObject& object, F&& translate_one) {
    if (replay(ctx, object)) return;
    begin(ctx, object);
    translate_one();
    end(ctx, object);
  }

  // Called once per translation after every object went through translate(): forgets objects
  // that were not seen (deleted, or no longer of our class). Returns how many were reused.
  size_t finishPass();

  // The last valid content of each certificate Secret, kept across translations so that a
  // broken update of a Secret leaves its hosts with the previous certificate.
  std::map<std::string, config::TlsCertificate>& lastGoodCertificates();

  struct Entry;

 private:
  bool replay(TranslationContext& ctx, const KubeObject& object);
  void begin(TranslationContext& ctx, const KubeObject& object);
  void end(TranslationContext& ctx, const KubeObject& object);

  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace atrium::controller::translator
