#pragma once
// Reads fields of one Kubernetes object's JSON while tracking the field path, so every problem
// becomes a Diagnostic naming the file, the object and the exact field ("spec.rules[0].host").
// Type mismatches are reported, never thrown.
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "controller/diagnostic.h"
#include "controller/store/object_store.h"

namespace atrium::controller::translator {

// j[key] by reference when j is an object holding key, else a null value. Unlike
// json::value(key, default), never copies: translation reads every object on every change.
const nlohmann::json& jsonAt(const nlohmann::json& j, const char* key);

// No j[key], or null: what the typed reads below return nullopt for without a report (so a
// required field can be told apart from one of the wrong type, which they did report).
inline bool isAbsent(const nlohmann::json& j, const char* key) { return jsonAt(j, key).is_null(); }

class FieldReader {
 public:
  FieldReader(const KubeObject& object, Diagnostics& diagnostics)
      : object_(object), diagnostics_(diagnostics) {}

  // Reports an error (the caller skips what it was building) or a warning about `field`.
  void error(const std::string& field, const std::string& message);
  void warning(const std::string& field, const std::string& message);

  // Typed reads of `parent[key]`. Absent (or null) → nullopt without a report; present with the
  // wrong type → nullopt and an error. `path` is the parent's field path.
  std::optional<std::string> string(const nlohmann::json& parent, const std::string& path,
                                    const char* key);
  std::optional<int64_t> integer(const nlohmann::json& parent, const std::string& path,
                                 const char* key);
  std::optional<bool> boolean(const nlohmann::json& parent, const std::string& path,
                              const char* key);
  // Returns the child if it is an object/array; null json (absent) returns nullptr.
  const nlohmann::json* object(const nlohmann::json& parent, const std::string& path,
                               const char* key);
  const nlohmann::json* array(const nlohmann::json& parent, const std::string& path,
                              const char* key);

  // Warns "unknown field, ignored" about each key of `object` that is not in `known`: a
  // misspelt optional field would otherwise silently mean its default.
  void unknownFields(const nlohmann::json& object, const std::string& path,
                     std::initializer_list<std::string_view> known);

  size_t errorCount() const { return errors_; }
  const KubeObject& kubeObject() const { return object_; }

  static std::string join(const std::string& path, const char* key);
  static std::string index(const std::string& path, size_t i);

 private:
  const nlohmann::json* child(const nlohmann::json& parent, const char* key) const;

  const KubeObject& object_;
  Diagnostics& diagnostics_;
  size_t errors_ = 0;
};

}  // namespace atrium::controller::translator
