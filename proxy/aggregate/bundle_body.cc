#include "proxy/aggregate/bundle_body.h"

#include <cctype>
#include <nlohmann/json.hpp>

namespace atrium::proxy::aggregate {

namespace {

using Json = nlohmann::ordered_json;

// application/json, application/problem+json, ... with any parameters.
bool isJsonType(std::string_view content_type) {
  std::string type;
  for (char c : content_type.substr(0, content_type.find(';'))) {
    if (c != ' ' && c != '\t') type.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return type == "application/json" ||
         (type.size() > 5 && type.rfind("application/", 0) == 0 &&
          type.compare(type.size() - 5, 5, "+json") == 0);
}

Json errorEntry(int status, std::string_view code, std::string_view message) {
  Json error = Json::object();
  error["status"] = status;
  error["code"] = code;
  error["message"] = message;
  Json entry = Json::object();
  entry["error"] = std::move(error);
  return entry;
}

Json bodyOf(const CallOutcome& o) {
  if (isJsonType(o.content_type)) {
    Json parsed = Json::parse(o.body, nullptr, /*allow_exceptions=*/false);
    if (!parsed.is_discarded()) return parsed;
  }
  return Json(o.body);
}

}  // namespace

bool callFailed(const CallOutcome& outcome) { return !outcome.answered || outcome.status >= 500; }

std::string bundleBody(const std::vector<std::string>& names,
                       const std::vector<CallOutcome>& outcomes) {
  Json doc = Json::object();
  Json statuses = Json::object();
  for (size_t i = 0; i < names.size() && i < outcomes.size(); ++i) {
    const CallOutcome& o = outcomes[i];
    statuses[names[i]] = o.status;
    if (!o.answered) {
      doc[names[i]] = errorEntry(o.status, o.code, o.message);
    } else if (o.status >= 500) {
      doc[names[i]] = errorEntry(o.status, "upstream_error",
                                 "the call answered " + std::to_string(o.status));
    } else {
      doc[names[i]] = bodyOf(o);
    }
  }
  doc["_status"] = std::move(statuses);
  return doc.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace atrium::proxy::aggregate
