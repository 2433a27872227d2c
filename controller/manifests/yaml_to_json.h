#pragma once
// Converts parsed YAML (yaml-cpp nodes) to JSON the way the Kubernetes tooling does, so an object
// read from a manifest file is the same JSON the API server would hand the controller.
// Plain scalars are typed by the YAML 1.2 core schema (null, bool, int, float, else string);
// quoted and block scalars are always strings ("8080" stays a string, 8080 becomes a number);
// the standard tags (!!str, !!int, !!float, !!bool, !!null) are honoured; merge keys (`<<`) are
// expanded. Pure functions, safe on any thread.
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

namespace YAML {
class Node;
}

namespace atrium::controller::manifests {

// YAML with no JSON equivalent (a collection as a mapping key, a duplicate key, a value that
// contradicts its explicit tag) or beyond the conversion limits. Line and column are 1-based
// and relative to the text the node was parsed from; 0 when unknown.
class YamlConversionError : public std::runtime_error {
 public:
  YamlConversionError(const std::string& message, int line, int column)
      : std::runtime_error(message), line_(line), column_(column) {}

  int line() const { return line_; }
  int column() const { return column_; }

 private:
  int line_;
  int column_;
};

// Throws YamlConversionError. An undefined node converts to null.
nlohmann::json yamlToJson(const YAML::Node& node);

// The core-schema type of an unquoted, untagged scalar: "8080" → 8080, "true" → true,
// "~" → null, "1.5e3" → 1500.0, "0x1F" → 31, anything else → the string itself.
nlohmann::json plainScalarToJson(const std::string& value);

}  // namespace atrium::controller::manifests
