#include "controller/translator/unit_reader.h"

#include "src/common/units.h"

namespace atrium::controller::translator {

std::optional<uint32_t> readDurationMs(FieldReader& r, const nlohmann::json& parent,
                                       const std::string& path, const char* key,
                                       ZeroDuration zero) {
  auto text = r.string(parent, path, key);
  if (!text) return std::nullopt;
  auto d = common::parseDuration(*text);
  if (!d) {
    r.error(FieldReader::join(path, key),
            "invalid duration \"" + *text + "\" (e.g. 500ms, 5s, 1m)");
    return std::nullopt;
  }
  int64_t ms = d->count();
  if (ms == 0 && text->find_first_of("123456789") != std::string::npos) ms = 1;
  if (ms == 0 && zero == ZeroDuration::Refused) {
    r.error(FieldReader::join(path, key), "must be greater than zero");
    return std::nullopt;
  }
  if (ms > kMaxDurationMs) {
    r.error(FieldReader::join(path, key), "must be at most 1193h");
    return std::nullopt;
  }
  return static_cast<uint32_t>(ms);
}

std::optional<uint64_t> readByteSize(FieldReader& r, const nlohmann::json& parent,
                                     const std::string& path, const char* key) {
  const auto& v = jsonAt(parent, key);
  if (v.is_null()) return std::nullopt;
  std::optional<uint64_t> size;
  if (v.is_number_unsigned()) {
    size = v.get<uint64_t>();
  } else if (v.is_number_integer() && v.get<int64_t>() >= 0) {
    size = static_cast<uint64_t>(v.get<int64_t>());
  } else if (v.is_string()) {
    size = common::parseByteSize(v.get<std::string>());
  }
  if (!size) r.error(FieldReader::join(path, key), "must be a byte size such as 1Mi");
  return size;
}

}  // namespace atrium::controller::translator
