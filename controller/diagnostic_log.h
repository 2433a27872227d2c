#pragma once
// Logs diagnostics as they appear or change, not on every rebuild: a source that rebuilds its
// snapshot on each change would otherwise repeat every standing problem each time.
// Owned and called by one source, on the control-plane thread.
#include <set>
#include <string>

#include "controller/diagnostic.h"

namespace atrium::controller {

class DiagnosticLog {
 public:
  // Logs the diagnostics of this build that were not in the previous one.
  void report(const Diagnostics& diagnostics);

 private:
  std::set<std::string> reported_;
};

}  // namespace atrium::controller
