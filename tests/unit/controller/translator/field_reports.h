#pragma once
// Shared by the tests of the translator's field readers (cache, cors, rateLimit, resilience):
// run a reader over a JSON value as part of an APIRoute shop/orders and collect what it
// reported, as "field: message" lines.
#include <optional>
#include <string>
#include <vector>

#include "controller/translator/field_reader.h"

namespace atrium::controller::translator::field_reports {

struct FieldReports {
  std::vector<std::string> errors;
  std::vector<std::string> warnings;
};

// Runs `read(FieldReader&)` and appends its reports to `reports`; returns what `read` returned.
template <typename Read>
auto readReporting(Read&& read, FieldReports& reports) {
  const KubeObject object{"APIRoute", "atrium.dev/v1alpha1", "shop", "orders", "", {}};
  Diagnostics diagnostics;
  FieldReader r(object, diagnostics);
  auto out = read(r);
  for (const auto& d : diagnostics) {
    (d.warning ? reports.warnings : reports.errors).push_back(d.field + ": " + d.message);
  }
  return out;
}

// What a reader returning std::optional<T> made of one value, and what it said.
template <typename T>
struct ReadOutcome {
  std::optional<T> policy;
  std::vector<std::string> errors;
  std::vector<std::string> warnings;
};

template <typename T, typename Read>
ReadOutcome<T> readOutcome(Read&& read) {
  FieldReports reports;
  ReadOutcome<T> out;
  out.policy = readReporting(read, reports);
  out.errors = std::move(reports.errors);
  out.warnings = std::move(reports.warnings);
  return out;
}

}  // namespace atrium::controller::translator::field_reports
