#pragma once
// An APIConsumer's spec.plan (SPEC §3.3): its own rate limit (counted per consumer), a quota per
// calendar day or month, and the price the usage reports bill. Every problem is an error at its
// exact field path and nothing is returned; consumer_translator.cc then leaves the consumer out.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "controller/translator/field_reader.h"
#include "src/config/snapshot.h"

namespace atrium::controller::translator {

std::optional<config::Plan> readPlan(FieldReader& r, const nlohmann::json& plan,
                                     const std::string& path);

// A price as written in pricing.perThousandRequests: 1 to 12 digits, then optionally '.' and 1
// to 6 digits ("0.40", "12", "0.000125"); no sign, no exponent. Kept a string so that no binary
// floating point ever rounds a bill; the bounds keep it exact in millionths in 64 bits, as the
// usage reports compute with it.
bool isPriceDecimal(std::string_view text);

}  // namespace atrium::controller::translator
