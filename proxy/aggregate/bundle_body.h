#pragma once
// The JSON answer of an aggregate route (SPEC §5.5): one member per call, keyed by its name, in
// the order the calls are declared, plus "_status" with each call's HTTP status. A JSON answer
// (Content-Type application/json or +json) is embedded as JSON, any other as a string; a failed
// call is {"error": {"status", "code", "message"}}.
#include <string>
#include <string_view>
#include <vector>

namespace atrium::proxy::aggregate {

struct CallOutcome {
  // A complete response was received (even a 5xx). False: `status`, `code` and `message` say
  // what the gateway saw instead (504 upstream_timeout, 502 bad_gateway, ...).
  bool answered = false;
  int status = 0;
  std::string content_type;
  std::string body;
  std::string code;     // with !answered
  std::string message;  // with !answered
};

// A call failed when it got no complete answer or answered with a 5xx status; a 4xx is the
// service's own answer and is embedded as such.
bool callFailed(const CallOutcome& outcome);

// `names` and `outcomes` are parallel. Bytes that are not UTF-8 in a string body are replaced
// (U+FFFD), so the document is always valid JSON.
std::string bundleBody(const std::vector<std::string>& names,
                       const std::vector<CallOutcome>& outcomes);

}  // namespace atrium::proxy::aggregate
