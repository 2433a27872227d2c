#include "proxy/metering/calendar.h"

#include <fmt/format.h>

namespace atrium::proxy::metering {

namespace {

constexpr int64_t kDay = 86'400;

// Days since 1970-01-01 → civil date, and back (the proleptic Gregorian calendar, valid for
// any year a clock can show; Howard Hinnant's public-domain derivation).
CivilDate civilFromDays(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {static_cast<int>(y + (m <= 2)), m, d};
}

int64_t daysFromCivil(int year, unsigned month, unsigned day) {
  const int64_t y = static_cast<int64_t>(year) - (month <= 2);
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

int64_t floorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

bool readDigits(std::string_view text, size_t pos, size_t count, unsigned& out) {
  if (pos + count > text.size()) return false;
  out = 0;
  for (size_t i = pos; i < pos + count; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    out = out * 10 + static_cast<unsigned>(text[i] - '0');
  }
  return true;
}

}  // namespace

CivilDate civilFromUnix(int64_t unix_seconds) { return civilFromDays(floorDiv(unix_seconds, kDay)); }

int64_t unixFromCivil(const CivilDate& date) {
  return daysFromCivil(date.year, date.month, date.day) * kDay;
}

unsigned daysInMonth(int year, unsigned month) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month - 1];
}

std::string dayId(int64_t unix_seconds) {
  const auto d = civilFromUnix(unix_seconds);
  return fmt::format("{:04}-{:02}-{:02}", d.year, d.month, d.day);
}

std::string monthId(int64_t unix_seconds) {
  const auto d = civilFromUnix(unix_seconds);
  return fmt::format("{:04}-{:02}", d.year, d.month);
}

std::string periodId(config::QuotaPeriod period, int64_t unix_seconds) {
  return period == config::QuotaPeriod::Day ? dayId(unix_seconds) : monthId(unix_seconds);
}

int64_t periodEnd(config::QuotaPeriod period, int64_t unix_seconds) {
  const int64_t day = floorDiv(unix_seconds, kDay);
  if (period == config::QuotaPeriod::Day) return (day + 1) * kDay;
  const auto d = civilFromDays(day);
  const int year = d.month == 12 ? d.year + 1 : d.year;
  const unsigned month = d.month == 12 ? 1 : d.month + 1;
  return daysFromCivil(year, month, 1) * kDay;
}

std::optional<ReportPeriod> parseReportPeriod(std::string_view text) {
  unsigned year = 0, month = 0, day = 0;
  if (text.size() != 7 && text.size() != 10) return std::nullopt;
  if (!readDigits(text, 0, 4, year) || text[4] != '-' || !readDigits(text, 5, 2, month)) {
    return std::nullopt;
  }
  if (year < 1970 || month < 1 || month > 12) return std::nullopt;
  ReportPeriod p;
  p.id = std::string(text);
  if (text.size() == 7) {
    p.month = true;
    p.start = daysFromCivil(static_cast<int>(year), month, 1) * kDay;
    p.end = periodEnd(config::QuotaPeriod::Month, p.start);
    return p;
  }
  if (text[7] != '-' || !readDigits(text, 8, 2, day)) return std::nullopt;
  if (day < 1 || day > daysInMonth(static_cast<int>(year), month)) return std::nullopt;
  p.month = false;
  p.start = daysFromCivil(static_cast<int>(year), month, day) * kDay;
  p.end = p.start + kDay;
  return p;
}

ReportPeriod currentMonth(int64_t unix_seconds) { return *parseReportPeriod(monthId(unix_seconds)); }

}  // namespace atrium::proxy::metering
