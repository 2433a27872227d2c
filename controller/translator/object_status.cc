#include "controller/translator/object_status.h"

#include <map>

#include "controller/translator/field_reader.h"

namespace atrium::controller::translator {

namespace {

// Status messages are for people running `kubectl describe`: keep them to a screenful.
constexpr size_t kMaxMessage = 1024;

std::string summarize(const std::vector<std::string>& problems) {
  if (problems.empty()) return "";
  std::string text = problems.front();
  if (problems.size() > 1) {
    text += " (and " + std::to_string(problems.size() - 1) + " more problem" +
            (problems.size() > 2 ? "s" : "") + ")";
  }
  if (text.size() > kMaxMessage) text = text.substr(0, kMaxMessage - 3) + "...";
  return text;
}

int64_t generationOf(const KubeObject& o) {
  const auto& generation = jsonAt(jsonAt(o.body, "metadata"), "generation");
  return generation.is_number_integer() ? generation.get<int64_t>() : 0;
}

}  // namespace

std::vector<ObjectStatus> objectStatuses(const TranslationContext& ctx,
                                         const config::ConfigSnapshot& snapshot,
                                         const Diagnostics& diagnostics) {
  std::map<std::string, size_t> routes_by_object;
  for (const auto& vh : snapshot.virtual_hosts) {
    for (const auto& r : vh.routes) routes_by_object[r.source]++;
  }
  std::map<std::string, std::vector<std::string>> errors_by_object;
  for (const auto& d : diagnostics) {
    if (d.warning || d.object.empty()) continue;
    errors_by_object[d.object].push_back(d.field.empty() ? d.message : d.field + ": " + d.message);
  }

  std::vector<ObjectStatus> out;
  for (const auto& [display_name, served] : ctx.served) {
    if (!served.object) continue;
    const KubeObject& o = *served.object;
    ObjectStatus status{o.kind, o.ns, o.name, generationOf(o), {}};
    if (o.kind == "APIRoute") {
      const auto errors_it = errors_by_object.find(display_name);
      const std::vector<std::string> no_errors;
      const auto& errors = errors_it == errors_by_object.end() ? no_errors : errors_it->second;
      const bool serves_something = routes_by_object.count(display_name) > 0;
      ObjectCondition accepted{"Accepted", true, "Accepted", "the route is valid"};
      if (!errors.empty() && serves_something) {
        accepted = {"Accepted", true, "PartiallyInvalid",
                    "the invalid rules are left out: " + summarize(errors)};
      } else if (!errors.empty()) {
        accepted = {"Accepted", false, "Invalid", summarize(errors)};
      }
      ObjectCondition resolved{"ResolvedRefs", true, "ResolvedRefs",
                               "every backend reference resolved"};
      if (!served.unresolved.empty()) {
        resolved = {"ResolvedRefs", false, "BackendNotFound",
                    summarize(served.unresolved) + "; requests for these backends answer 500"};
      } else if (!served.certificate_problems.empty()) {
        resolved = {"ResolvedRefs", false, "InvalidCertificateRef",
                    summarize(served.certificate_problems)};
      }
      ObjectCondition programmed{"Programmed", true, "Programmed",
                                 "the route is in the configuration being served"};
      if (!accepted.status) {
        programmed = {"Programmed", false, "Invalid", "nothing of this route is served"};
      }
      status.conditions = {accepted, resolved, programmed};
    }
    out.push_back(std::move(status));
  }
  // ctx.served is keyed "Kind ns/name", which already sorts by kind, namespace and name.
  return out;
}

}  // namespace atrium::controller::translator
