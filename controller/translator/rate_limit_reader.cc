#include "controller/translator/rate_limit_reader.h"

#include <cctype>

#include "controller/translator/validation.h"
#include "src/common/units.h"

namespace atrium::controller::translator {

namespace {

constexpr size_t kMaxHeaderName = 256;  // the CRD's 263 characters of "Header:<name>"

// `key`: Consumer | ClientIP | Route | Header:<name>. Header names are stored lower-case, as
// the data plane compares them.
bool parseKey(const std::string& text, config::RateLimit& limit) {
  if (text == "Consumer") {
    limit.key = config::RateLimitKey::Consumer;
  } else if (text == "ClientIP") {
    limit.key = config::RateLimitKey::ClientIP;
  } else if (text == "Route") {
    limit.key = config::RateLimitKey::Route;
  } else if (text.rfind("Header:", 0) == 0) {
    std::string name = text.substr(7);
    if (!isHeaderName(name) || name.size() > kMaxHeaderName) return false;
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    limit.key = config::RateLimitKey::Header;
    limit.header = std::move(name);
  } else {
    return false;
  }
  return true;
}

}  // namespace

std::optional<config::RateLimit> readRateLimit(FieldReader& r, const nlohmann::json& limit,
                                               const std::string& path, bool with_key) {
  if (!limit.is_object()) {
    r.error(path, "must be an object");
    return std::nullopt;
  }
  const size_t errors_before = r.errorCount();
  if (with_key) {
    r.unknownFields(limit, path, {"requests", "period", "burst", "key"});
  } else {
    r.unknownFields(limit, path, {"requests", "period", "burst"});
  }
  config::RateLimit out;
  if (auto requests = r.integer(limit, path, "requests")) {
    if (*requests < 1 || *requests > kMaxRateLimitCount) {
      r.error(FieldReader::join(path, "requests"), "must be between 1 and 1000000000");
    } else {
      out.requests = static_cast<uint64_t>(*requests);
    }
  } else if (isAbsent(limit, "requests")) {
    r.error(FieldReader::join(path, "requests"), "is required");
  }
  if (auto period = r.string(limit, path, "period")) {
    // Go syntax ("500ms", "1m30s") and the SPEC's 1s/1m/1h/1d; a bare number has no unit.
    auto d = common::parseDuration(*period);
    if (!d) {
      r.error(FieldReader::join(path, "period"),
              "invalid duration \"" + *period + "\" (e.g. 1s, 1m, 1h, 1d, 1m30s)");
    } else if (d->count() < 1) {
      r.error(FieldReader::join(path, "period"), "must be at least 1ms");
    } else {
      out.period_ms = static_cast<uint64_t>(d->count());
    }
  } else if (isAbsent(limit, "period")) {
    r.error(FieldReader::join(path, "period"), "is required");
  }
  if (auto burst = r.integer(limit, path, "burst")) {
    if (*burst < 0 || *burst > kMaxRateLimitCount) {
      r.error(FieldReader::join(path, "burst"), "must be between 0 and 1000000000");
    } else {
      out.burst = static_cast<uint64_t>(*burst);
    }
  }
  if (with_key) {
    if (auto key = r.string(limit, path, "key"); key && !parseKey(*key, out)) {
      r.error(FieldReader::join(path, "key"),
              "must be Consumer, ClientIP, Route or Header:<name> with an HTTP header name");
    }
  }
  if (r.errorCount() != errors_before) return std::nullopt;
  return out;
}

std::optional<config::RateLimitPolicy> readRateLimitPolicy(FieldReader& r,
                                                           const nlohmann::json& rate_limit,
                                                           const std::string& path,
                                                           std::string scope) {
  const size_t errors_before = r.errorCount();
  r.unknownFields(rate_limit, path, {"limits", "scope"});
  config::RateLimitPolicy out;
  out.scope = std::move(scope);
  const std::string lpath = FieldReader::join(path, "limits");
  const auto* limits = r.array(rate_limit, path, "limits");
  if (limits && !limits->empty() && limits->size() <= kMaxRateLimits) {
    for (size_t i = 0; i < limits->size(); ++i) {
      if (auto limit = readRateLimit(r, (*limits)[i], FieldReader::index(lpath, i), true)) {
        out.limits.push_back(std::move(*limit));
      }
    }
  } else if (limits || isAbsent(rate_limit, "limits")) {
    r.error(lpath, "needs 1 to 8 limits");
  }
  if (auto s = r.string(rate_limit, path, "scope")) {
    if (*s == "Global") {
      out.global = true;
    } else if (*s != "Local") {
      r.error(FieldReader::join(path, "scope"), "must be Local or Global");
    }
  }
  if (r.errorCount() != errors_before) return std::nullopt;
  return out;
}

}  // namespace atrium::controller::translator
