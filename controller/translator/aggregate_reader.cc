#include "controller/translator/aggregate_reader.h"

#include <cctype>
#include <set>

#include "controller/translator/backend_ref_reader.h"
#include "controller/translator/unit_reader.h"
#include "src/config/call_template.h"

namespace atrium::controller::translator {

namespace {

// A JSON member name that reads well in any client: [A-Za-z_][A-Za-z0-9_-]*, at most 63.
bool isCallName(const std::string& name) {
  if (name.empty() || name.size() > 63) return false;
  if (!std::isalpha(static_cast<unsigned char>(name[0])) && name[0] != '_') return false;
  for (unsigned char c : name) {
    if (!std::isalnum(c) && c != '_' && c != '-') return false;
  }
  return true;
}

constexpr std::string_view kMethods[] = {"GET",     "HEAD",    "POST",  "PUT",  "DELETE",
                                         "CONNECT", "OPTIONS", "TRACE", "PATCH"};

}  // namespace

std::optional<config::Aggregate> readAggregate(TranslationContext& ctx, FieldReader& r,
                                               const KubeObject& object,
                                               const nlohmann::json& aggregate,
                                               const std::string& path) {
  const size_t errors_before = r.errorCount();
  r.unknownFields(aggregate, path, {"calls", "timeout", "onError", "maxCallBodySize"});
  config::Aggregate out;
  const auto* calls = r.array(aggregate, path, "calls");
  const std::string cpath = FieldReader::join(path, "calls");
  if (!calls || calls->empty()) {
    r.error(cpath, "needs at least one call");
    return std::nullopt;
  }
  if (calls->size() > kMaxAggregateCalls) {
    r.error(cpath, "has more than " + std::to_string(kMaxAggregateCalls) + " calls");
    return std::nullopt;
  }
  std::set<std::string> names;
  for (size_t i = 0; i < calls->size(); ++i) {
    const auto& c = (*calls)[i];
    const std::string ipath = FieldReader::index(cpath, i);
    if (!c.is_object()) {
      r.error(ipath, "must be an object");
      continue;
    }
    r.unknownFields(c, ipath, {"name", "service", "url", "path", "method"});
    config::AggregateCall call;
    call.name = r.string(c, ipath, "name").value_or("");
    if (!isCallName(call.name)) {
      r.error(FieldReader::join(ipath, "name"),
              "must match [A-Za-z_][A-Za-z0-9_-]* (at most 63 characters)");
      continue;
    }
    if (call.name == "_status") {
      r.error(FieldReader::join(ipath, "name"), "_status is the bundle's own member");
      continue;
    }
    if (!names.insert(call.name).second) {
      r.error(FieldReader::join(ipath, "name"), "is used by another call");
      continue;
    }
    call.path = r.string(c, ipath, "path").value_or("/");
    std::vector<config::TemplatePart> parts;
    if (auto problem = config::parseCallTemplate(call.path, parts)) {
      r.error(FieldReader::join(ipath, "path"), *problem);
      continue;
    }
    call.method = r.string(c, ipath, "method").value_or("GET");
    if (std::find(std::begin(kMethods), std::end(kMethods), call.method) == std::end(kMethods)) {
      r.error(FieldReader::join(ipath, "method"), "must be an upper-case HTTP method");
      continue;
    }
    auto backend = readBackendRef(ctx, r, object, c, ipath, 1, std::nullopt);
    if (!backend) continue;
    call.cluster = backend->cluster;
    call.unresolved_reason = backend->unresolved_reason;
    out.calls.push_back(std::move(call));
  }
  if (auto timeout = readDurationMs(r, aggregate, path, "timeout")) out.timeout_ms = *timeout;
  if (auto on_error = r.string(aggregate, path, "onError")) {
    if (*on_error == "Partial") {
      out.on_error = config::AggregateOnError::Partial;
    } else if (*on_error == "Fail") {
      out.on_error = config::AggregateOnError::Fail;
    } else {
      r.error(FieldReader::join(path, "onError"), "must be Partial or Fail");
    }
  }
  if (auto size = readByteSize(r, aggregate, path, "maxCallBodySize")) {
    if (*size == 0 || *size > kMaxAggregateCallBody) {
      r.error(FieldReader::join(path, "maxCallBodySize"), "must be between 1 byte and 16Mi");
    } else {
      out.max_call_body_bytes = *size;
    }
  }
  if (r.errorCount() != errors_before) return std::nullopt;
  return out;
}

}  // namespace atrium::controller::translator
