#include "controller/manifests/yaml_to_json.h"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <charconv>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>
#include <vector>

namespace atrium::controller::manifests {
namespace {

using nlohmann::json;

// Aliases let a few lines of YAML expand to billions of nodes ("billion laughs") and an alias
// inside its own anchor makes a cycle; both limits stop a manifest from exhausting memory or
// the stack. Real Kubernetes objects are far below either.
constexpr int kMaxDepth = 512;
constexpr size_t kMaxNodes = size_t{1} << 20;

constexpr std::string_view kTagPrefix = "tag:yaml.org,2002:";

struct ConversionState {
  size_t nodes = 0;
};

[[noreturn]] void fail(const std::string& message, const YAML::Node& at) {
  auto mark = at.Mark();
  if (mark.is_null()) throw YamlConversionError(message, 0, 0);
  throw YamlConversionError(message, mark.line + 1, mark.column + 1);
}

bool isDigits(std::string_view s, int base) {
  if (s.empty()) return false;
  for (char c : s) {
    bool ok = base == 8    ? (c >= '0' && c <= '7')
              : base == 10 ? (c >= '0' && c <= '9')
                           : std::isxdigit(static_cast<unsigned char>(c)) != 0;
    if (!ok) return false;
  }
  return true;
}

std::optional<json> parseCoreFloat(std::string_view s);

// [-+]?[0-9]+ | 0o[0-7]+ | 0x[0-9a-fA-F]+. Non-negative values become unsigned and negative ones
// signed, exactly as nlohmann's own parser types them, so a YAML and a JSON manifest of the same
// object produce identical bodies.
std::optional<json> parseCoreInt(std::string_view s) {
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'x')) {
    int base = s[1] == 'o' ? 8 : 16;
    auto digits = s.substr(2);
    if (!isDigits(digits, base)) return std::nullopt;
    uint64_t value = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value, base);
    if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
    return json(value);
  }
  bool negative = !s.empty() && s[0] == '-';
  auto digits = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? s.substr(1) : s;
  if (!isDigits(digits, 10)) return std::nullopt;
  uint64_t magnitude = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), magnitude);
  if (ec == std::errc::result_out_of_range) return parseCoreFloat(s);  // still a number
  if (ec != std::errc()) return std::nullopt;
  if (!negative) return json(magnitude);
  constexpr uint64_t kMinMagnitude = uint64_t{1} << 63;
  if (magnitude > kMinMagnitude) return parseCoreFloat(s);
  if (magnitude == kMinMagnitude) return json(std::numeric_limits<int64_t>::min());
  return json(-static_cast<int64_t>(magnitude));
}

// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? | [-+]?\.(inf|Inf|INF) | \.(nan|NaN|NAN)
std::optional<json> parseCoreFloat(std::string_view s) {
  if (s == ".nan" || s == ".NaN" || s == ".NAN") {
    return json(std::numeric_limits<double>::quiet_NaN());
  }
  bool negative = !s.empty() && s[0] == '-';
  auto body = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? s.substr(1) : s;
  if (body == ".inf" || body == ".Inf" || body == ".INF") {
    double inf = std::numeric_limits<double>::infinity();
    return json(negative ? -inf : inf);
  }
  // Check the exact grammar first: from_chars alone would also take "inf", "nan" or "1e".
  size_t i = 0;
  size_t int_digits = 0, frac_digits = 0;
  while (i < body.size() && body[i] >= '0' && body[i] <= '9') ++i, ++int_digits;
  if (i < body.size() && body[i] == '.') {
    ++i;
    while (i < body.size() && body[i] >= '0' && body[i] <= '9') ++i, ++frac_digits;
    // "1." is a float, "." and ".e1" are not.
    if (int_digits == 0 && frac_digits == 0) return std::nullopt;
  } else if (int_digits == 0) {
    return std::nullopt;
  }
  if (i < body.size() && (body[i] == 'e' || body[i] == 'E')) {
    ++i;
    if (i < body.size() && (body[i] == '-' || body[i] == '+')) ++i;
    size_t exp_digits = 0;
    while (i < body.size() && body[i] >= '0' && body[i] <= '9') ++i, ++exp_digits;
    if (exp_digits == 0) return std::nullopt;
  }
  if (i != body.size()) return std::nullopt;
  double value = 0;
  auto [end, ec] = std::from_chars(body.data(), body.data() + body.size(), value);
  if (ec == std::errc::result_out_of_range) {
    // Beyond a double: the schema still says float, so saturate (a negative exponent underflows).
    auto e = body.find_first_of("eE");
    bool underflow = e != std::string_view::npos && e + 1 < body.size() && body[e + 1] == '-';
    value = underflow ? 0.0 : std::numeric_limits<double>::infinity();
  } else if (ec != std::errc() || end != body.data() + body.size()) {
    return std::nullopt;
  }
  return json(negative ? -value : value);
}

std::optional<json> parseCoreBool(std::string_view s) {
  if (s == "true" || s == "True" || s == "TRUE") return json(true);
  if (s == "false" || s == "False" || s == "FALSE") return json(false);
  return std::nullopt;
}

bool isCoreNull(std::string_view s) {
  return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL";
}

// yaml-cpp passes invalid UTF-8 through untouched, and nlohmann throws when such a string is
// dumped later (admin /config, logs); rejecting it here keeps the failure at the parsing boundary.
bool isValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t length;
    uint32_t min;
    uint32_t code;
    if ((c & 0xE0) == 0xC0) {
      length = 2, min = 0x80, code = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      length = 3, min = 0x800, code = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      length = 4, min = 0x10000, code = c & 0x07;
    } else {
      return false;
    }
    if (i + length > s.size()) return false;
    for (size_t k = 1; k < length; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      code = (code << 6) | (cc & 0x3F);
    }
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are all invalid.
    if (code < min || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return false;
    i += length;
  }
  return true;
}

json scalarToJson(const YAML::Node& node) {
  const std::string& tag = node.Tag();
  const std::string& value = node.Scalar();
  if (!isValidUtf8(value)) fail("invalid UTF-8 in a value", node);
  // "?" marks a plain scalar, "!" a quoted or block one (always a string in every schema).
  if (tag == "?" || tag.empty()) return plainScalarToJson(value);
  if (tag == "!") return json(value);
  if (tag.compare(0, kTagPrefix.size(), kTagPrefix) != 0) {
    // Application tags (!Ref, !foo) mean nothing to Kubernetes; keep the text rather than guess.
    return json(value);
  }
  std::string_view type = std::string_view(tag).substr(kTagPrefix.size());
  std::optional<json> typed;
  if (type == "str" || type == "binary" || type == "timestamp") {
    typed = json(value);
  } else if (type == "int") {
    typed = parseCoreInt(value);
  } else if (type == "float") {
    typed = parseCoreFloat(value);
    if (!typed) {
      if (auto as_int = parseCoreInt(value)) typed = json(as_int->get<double>());
    }
  } else if (type == "bool") {
    typed = parseCoreBool(value);
  } else if (type == "null") {
    if (isCoreNull(value)) typed = json(nullptr);
  } else {
    typed = json(value);
  }
  if (!typed) fail("value \"" + value + "\" does not match its tag !!" + std::string(type), node);
  return *typed;
}

std::string keyToString(const YAML::Node& key) {
  switch (key.Type()) {
    case YAML::NodeType::Scalar:
      if (!isValidUtf8(key.Scalar())) fail("invalid UTF-8 in a key", key);
      return key.Scalar();
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return "null";
    default:
      fail("mapping keys must be scalars, found a " +
               std::string(key.IsMap() ? "mapping" : "sequence"),
           key);
  }
}

bool isMergeKey(const YAML::Node& key) {
  return key.IsScalar() && key.Scalar() == "<<" &&
         (key.Tag() == "?" || key.Tag() == std::string(kTagPrefix) + "merge");
}

json convert(const YAML::Node& node, ConversionState& state, int depth);

// Merged entries never override keys written in the mapping itself, and earlier merge sources
// win over later ones (YAML merge key semantics, as kubectl applies them).
void mergeInto(json& target, const json& source) {
  for (const auto& [key, value] : source.items()) {
    if (!target.contains(key)) target[key] = value;
  }
}

json convertMap(const YAML::Node& node, ConversionState& state, int depth) {
  json out = json::object();
  std::vector<YAML::Node> merges;
  for (const auto& entry : node) {
    if (isMergeKey(entry.first)) {
      merges.push_back(entry.second);
      continue;
    }
    std::string key = keyToString(entry.first);
    if (out.contains(key)) fail("duplicate key \"" + key + "\"", entry.first);
    out[key] = convert(entry.second, state, depth + 1);
  }
  for (const auto& source : merges) {
    if (source.IsMap()) {
      mergeInto(out, convert(source, state, depth + 1));
    } else if (source.IsSequence()) {
      for (const auto& item : source) {
        if (!item.IsMap()) fail("a merge key (<<) takes mappings only", item);
        mergeInto(out, convert(item, state, depth + 1));
      }
    } else {
      fail("a merge key (<<) takes a mapping or a sequence of mappings", source);
    }
  }
  return out;
}

json convert(const YAML::Node& node, ConversionState& state, int depth) {
  if (depth > kMaxDepth) fail("nesting deeper than " + std::to_string(kMaxDepth), node);
  if (++state.nodes > kMaxNodes) {
    fail("document expands to more than " + std::to_string(kMaxNodes) + " nodes", node);
  }
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      return json(nullptr);
    case YAML::NodeType::Scalar:
      return scalarToJson(node);
    case YAML::NodeType::Sequence: {
      json out = json::array();
      for (const auto& item : node) out.push_back(convert(item, state, depth + 1));
      return out;
    }
    case YAML::NodeType::Map:
      return convertMap(node, state, depth);
  }
  return json(nullptr);
}

}  // namespace

json plainScalarToJson(const std::string& value) {
  if (isCoreNull(value)) return json(nullptr);
  if (auto b = parseCoreBool(value)) return *b;
  // Cheap filter: every number starts with a digit, a sign or a dot.
  char first = value[0];
  if ((first >= '0' && first <= '9') || first == '-' || first == '+' || first == '.') {
    if (auto i = parseCoreInt(value)) return *i;
    if (auto f = parseCoreFloat(value)) return *f;
  }
  return json(value);
}

json yamlToJson(const YAML::Node& node) {
  ConversionState state;
  return convert(node, state, 0);
}

}  // namespace atrium::controller::manifests
