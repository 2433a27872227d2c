#pragma once
// Calendar periods in UTC for quotas and usage reports: "2026-11" (month) and "2026-11-26"
// (day), and when each ends. Computed from days since the epoch (no time zone database, no
// locale, no timegm), so leap years and month ends are plain arithmetic the tests pin down.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "src/config/snapshot.h"

namespace atrium::proxy::metering {

struct CivilDate {
  int year = 1970;
  unsigned month = 1;  // 1..12
  unsigned day = 1;    // 1..31
  bool operator==(const CivilDate&) const = default;
};

CivilDate civilFromUnix(int64_t unix_seconds);
int64_t unixFromCivil(const CivilDate& date);  // 00:00:00 UTC of that day
unsigned daysInMonth(int year, unsigned month);

std::string dayId(int64_t unix_seconds);    // "2026-11-26"
std::string monthId(int64_t unix_seconds);  // "2026-11"
std::string periodId(config::QuotaPeriod period, int64_t unix_seconds);
// The first second of the next period: quota counts reset then (Retry-After points there).
int64_t periodEnd(config::QuotaPeriod period, int64_t unix_seconds);

// A period named in a /usage query: "2026-11" or "2026-11-26", with its first day and the
// first second after it. nullopt for anything else.
struct ReportPeriod {
  std::string id;
  bool month = true;
  int64_t start = 0;  // unix seconds
  int64_t end = 0;
};
std::optional<ReportPeriod> parseReportPeriod(std::string_view text);
ReportPeriod currentMonth(int64_t unix_seconds);

}  // namespace atrium::proxy::metering
