// atrium: Kubernetes ingress controller and API gateway. See README.md and docs/.
#include <iostream>

#include "src/app/app.h"
#include "src/app/flags.h"
#include "src/common/logging.h"

#ifndef ATRIUM_VERSION
#define ATRIUM_VERSION "0.1.0"
#endif

int main(int argc, char** argv) {
  std::string error;
  auto flags = atrium::app::parseFlags(argc, argv, error);
  if (!flags) {
    std::cerr << "atrium: " << error << " (see atrium --help)\n";
    return 2;
  }
  if (flags->help) {
    std::cout << atrium::app::helpText();
    return 0;
  }
  if (flags->version) {
    std::cout << "atrium " << ATRIUM_VERSION << "\n";
    return 0;
  }
  atrium::common::setupLogging(flags->log_level, flags->log_format);
  if (flags->check) return atrium::app::runCheck(*flags);
  return atrium::app::runGateway(*flags);
}
