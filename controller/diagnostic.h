#pragma once
// A problem found in the declared configuration: reported (log, `atrium check`, status) and the
// object or field skipped, never fatal for the rest of the configuration.
#include <string>
#include <vector>

namespace atrium::controller {

struct Diagnostic {
  std::string source;  // manifest file path (manifests mode) or "" for API objects
  std::string object;  // "Ingress shop/web"; empty when the problem is the file itself
  std::string field;   // field path, e.g. "spec.rules[0].http.paths[1].pathType"
  std::string message;
  bool warning = false;  // true: reported, object still (partly) applied

  // One line: "<source>: <object>: <field>: <message>", omitting empty parts.
  std::string format() const;
  bool operator==(const Diagnostic&) const = default;
};

using Diagnostics = std::vector<Diagnostic>;

}  // namespace atrium::controller
