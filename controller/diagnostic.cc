#include "controller/diagnostic.h"

namespace atrium::controller {

std::string Diagnostic::format() const {
  std::string line;
  auto append = [&line](const std::string& part) {
    if (part.empty()) return;
    if (!line.empty()) line += ": ";
    line += part;
  };
  append(source);
  append(object);
  append(field);
  append(message);
  if (warning) line = "warning: " + line;
  return line;
}

}  // namespace atrium::controller
