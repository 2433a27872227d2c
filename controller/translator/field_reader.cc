#include "controller/translator/field_reader.h"

#include <algorithm>

namespace atrium::controller::translator {

const nlohmann::json& jsonAt(const nlohmann::json& j, const char* key) {
  static const nlohmann::json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

void FieldReader::error(const std::string& field, const std::string& message) {
  ++errors_;
  diagnostics_.push_back({object_.source, object_.displayName(), field, message, false});
}

void FieldReader::warning(const std::string& field, const std::string& message) {
  diagnostics_.push_back({object_.source, object_.displayName(), field, message, true});
}

std::string FieldReader::join(const std::string& path, const char* key) {
  return path.empty() ? std::string(key) : path + "." + key;
}

std::string FieldReader::index(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

const nlohmann::json* FieldReader::child(const nlohmann::json& parent, const char* key) const {
  if (!parent.is_object()) return nullptr;
  auto it = parent.find(key);
  if (it == parent.end() || it->is_null()) return nullptr;
  return &*it;
}

std::optional<std::string> FieldReader::string(const nlohmann::json& parent,
                                               const std::string& path, const char* key) {
  const auto* v = child(parent, key);
  if (!v) return std::nullopt;
  if (!v->is_string()) {
    error(join(path, key), "must be a string");
    return std::nullopt;
  }
  return v->get<std::string>();
}

std::optional<int64_t> FieldReader::integer(const nlohmann::json& parent, const std::string& path,
                                            const char* key) {
  const auto* v = child(parent, key);
  if (!v) return std::nullopt;
  if (!v->is_number_integer()) {
    error(join(path, key), "must be an integer");
    return std::nullopt;
  }
  return v->get<int64_t>();
}

std::optional<bool> FieldReader::boolean(const nlohmann::json& parent, const std::string& path,
                                         const char* key) {
  const auto* v = child(parent, key);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) {
    error(join(path, key), "must be true or false");
    return std::nullopt;
  }
  return v->get<bool>();
}

const nlohmann::json* FieldReader::object(const nlohmann::json& parent, const std::string& path,
                                          const char* key) {
  const auto* v = child(parent, key);
  if (!v) return nullptr;
  if (!v->is_object()) {
    error(join(path, key), "must be an object");
    return nullptr;
  }
  return v;
}

const nlohmann::json* FieldReader::array(const nlohmann::json& parent, const std::string& path,
                                         const char* key) {
  const auto* v = child(parent, key);
  if (!v) return nullptr;
  if (!v->is_array()) {
    error(join(path, key), "must be a list");
    return nullptr;
  }
  return v;
}

void FieldReader::unknownFields(const nlohmann::json& object, const std::string& path,
                                std::initializer_list<std::string_view> known) {
  if (!object.is_object()) return;
  for (const auto& [key, value] : object.items()) {
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      warning(join(path, key.c_str()), "unknown field, ignored");
    }
  }
}

}  // namespace atrium::controller::translator
