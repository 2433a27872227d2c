#pragma once
// Wires the controller (a source of TranslationResults) to the proxy engine and admin server,
// and owns the process lifecycle: signals, readiness, drain.
#include "src/app/flags.h"

namespace atrium::app {

// Runs the gateway until SIGTERM/SIGINT; returns the process exit code.
int runGateway(const Flags& flags);

// `atrium check PATH...`: prints one line per problem; returns 0 when none, else 1.
int runCheck(const Flags& flags);

}  // namespace atrium::app
