#pragma once
// Decides whether an Ingress or APIRoute belongs to this controller (SPEC §3.1 "Class").
#include <optional>
#include <string>

#include "controller/store/object_store.h"
#include "controller/translator/translator.h"

namespace atrium::controller::translator {

class ClassFilter {
 public:
  ClassFilter(const ObjectStore& objects, const TranslatorOptions& options);

  // `class_name` is spec.ingressClassName (or the legacy annotation); nullopt when none is named.
  bool isOurs(const std::optional<std::string>& class_name) const;

 private:
  const ObjectStore& objects_;
  const TranslatorOptions& options_;
  bool default_class_is_ours_ = false;
};

}  // namespace atrium::controller::translator
