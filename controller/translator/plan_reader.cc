#include "controller/translator/plan_reader.h"

#include "controller/translator/rate_limit_reader.h"

namespace atrium::controller::translator {

namespace {

constexpr size_t kMaxPriceWholeDigits = 12;
constexpr size_t kMaxPriceDecimals = 6;

bool isCurrencyCode(const std::string& s) {
  if (s.size() != 3) return false;
  for (char c : s) {
    if (c < 'A' || c > 'Z') return false;
  }
  return true;
}

void readQuota(FieldReader& r, const nlohmann::json& quota, const std::string& path,
               config::Plan& plan) {
  r.unknownFields(quota, path, {"requests", "period"});
  if (auto requests = r.integer(quota, path, "requests")) {
    if (*requests < 1) {
      r.error(FieldReader::join(path, "requests"), "must be at least 1");
    } else {
      plan.quota_requests = static_cast<uint64_t>(*requests);
    }
  } else if (isAbsent(quota, "requests")) {
    r.error(FieldReader::join(path, "requests"), "is required");
  }
  if (auto period = r.string(quota, path, "period")) {
    if (*period == "day") {
      plan.quota_period = config::QuotaPeriod::Day;
    } else if (*period == "month") {
      plan.quota_period = config::QuotaPeriod::Month;
    } else {
      r.error(FieldReader::join(path, "period"), "must be day or month");
    }
  } else if (isAbsent(quota, "period")) {
    r.error(FieldReader::join(path, "period"), "is required");
  }
}

void readPricing(FieldReader& r, const nlohmann::json& pricing, const std::string& path,
                 config::Plan& plan) {
  r.unknownFields(pricing, path, {"currency", "perThousandRequests"});
  if (auto currency = r.string(pricing, path, "currency")) {
    if (!isCurrencyCode(*currency)) {
      r.error(FieldReader::join(path, "currency"),
              "must be an ISO 4217 code: three upper-case letters (e.g. USD)");
    } else {
      plan.currency = *currency;
    }
  } else if (isAbsent(pricing, "currency")) {
    r.error(FieldReader::join(path, "currency"), "is required");
  }
  const std::string ppath = FieldReader::join(path, "perThousandRequests");
  if (jsonAt(pricing, "perThousandRequests").is_number()) {
    // YAML reads an unquoted 0.40 as a float, which cannot hold most prices exactly.
    r.error(ppath, "must be a quoted decimal string such as \"0.40\", not a number");
  } else if (auto price = r.string(pricing, path, "perThousandRequests")) {
    if (!isPriceDecimal(*price)) {
      r.error(ppath,
              "must be a decimal such as \"0.40\": 1 to 12 digits, then optionally '.' and "
              "1 to 6 digits");
    } else {
      plan.per_thousand_requests = *price;
    }
  } else if (isAbsent(pricing, "perThousandRequests")) {
    r.error(ppath, "is required");
  }
}

}  // namespace

bool isPriceDecimal(std::string_view text) {
  auto digits = [](std::string_view s) {
    return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
  };
  const size_t dot = text.find('.');
  const std::string_view whole = text.substr(0, dot);
  if (!digits(whole) || whole.size() > kMaxPriceWholeDigits) return false;
  return dot == std::string_view::npos ||
         (digits(text.substr(dot + 1)) && text.size() - dot - 1 <= kMaxPriceDecimals);
}

std::optional<config::Plan> readPlan(FieldReader& r, const nlohmann::json& plan,
                                     const std::string& path) {
  const size_t errors_before = r.errorCount();
  r.unknownFields(plan, path, {"rateLimit", "quota", "pricing"});
  config::Plan out;
  if (const auto* limit = r.object(plan, path, "rateLimit")) {
    // Counted per consumer whatever route it calls, so there is no key to choose.
    out.rate_limit = readRateLimit(r, *limit, FieldReader::join(path, "rateLimit"), false);
  }
  if (const auto* quota = r.object(plan, path, "quota")) {
    readQuota(r, *quota, FieldReader::join(path, "quota"), out);
  }
  if (const auto* pricing = r.object(plan, path, "pricing")) {
    readPricing(r, *pricing, FieldReader::join(path, "pricing"), out);
  }
  if (r.errorCount() != errors_before) return std::nullopt;
  return out;
}

}  // namespace atrium::controller::translator
