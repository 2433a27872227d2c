#include "proxy/metering/calendar.h"

#include <gtest/gtest.h>

namespace atrium::proxy::metering {
namespace {

int64_t at(int y, unsigned m, unsigned d, int hh = 0, int mm = 0, int ss = 0) {
  return unixFromCivil({y, m, d}) + hh * 3600 + mm * 60 + ss;
}

TEST(CalendarTest, CivilDatesRoundTrip) {
  EXPECT_EQ(unixFromCivil({1970, 1, 1}), 0);
  EXPECT_EQ(civilFromUnix(0), (CivilDate{1970, 1, 1}));
  EXPECT_EQ(unixFromCivil({2026, 11, 26}), 1795651200);
  for (int64_t t = 0; t < 4'000'000'000; t += 86'400 * 37 + 12345) {
    const auto d = civilFromUnix(t);
    EXPECT_EQ(unixFromCivil(d), t - t % 86'400);
  }
}

TEST(CalendarTest, LeapYears) {
  EXPECT_EQ(daysInMonth(2024, 2), 29u);
  EXPECT_EQ(daysInMonth(2026, 2), 28u);
  EXPECT_EQ(daysInMonth(2000, 2), 29u);  // divisible by 400
  EXPECT_EQ(daysInMonth(2100, 2), 28u);  // divisible by 100 only
  EXPECT_EQ(dayId(at(2028, 2, 28, 23, 59, 59) + 1), "2028-02-29");
  EXPECT_EQ(dayId(at(2027, 2, 28, 23, 59, 59) + 1), "2027-03-01");
}

TEST(CalendarTest, MonthPeriodsEndAtTheNextMonthsFirstSecond) {
  EXPECT_EQ(monthId(at(2026, 11, 30, 23, 59, 59)), "2026-11");
  EXPECT_EQ(periodEnd(config::QuotaPeriod::Month, at(2026, 11, 30, 23, 59, 59)), at(2026, 12, 1));
  EXPECT_EQ(periodEnd(config::QuotaPeriod::Month, at(2026, 12, 31, 12)), at(2027, 1, 1));
  EXPECT_EQ(periodEnd(config::QuotaPeriod::Month, at(2028, 2, 29, 1)), at(2028, 3, 1));
  EXPECT_EQ(periodEnd(config::QuotaPeriod::Month, at(2026, 1, 1)), at(2026, 2, 1));
  EXPECT_EQ(periodId(config::QuotaPeriod::Month, at(2026, 12, 1)), "2026-12");
}

TEST(CalendarTest, DayPeriods) {
  EXPECT_EQ(periodEnd(config::QuotaPeriod::Day, at(2026, 11, 26, 13, 5)), at(2026, 11, 27));
  EXPECT_EQ(periodEnd(config::QuotaPeriod::Day, at(2026, 12, 31, 23, 59, 59)), at(2027, 1, 1));
  EXPECT_EQ(periodId(config::QuotaPeriod::Day, at(2026, 11, 26, 23, 59, 59)), "2026-11-26");
  EXPECT_EQ(periodId(config::QuotaPeriod::Day, at(2026, 11, 27)), "2026-11-27");
}

TEST(CalendarTest, ReportPeriods) {
  auto month = parseReportPeriod("2028-02");
  ASSERT_TRUE(month);
  EXPECT_TRUE(month->month);
  EXPECT_EQ(month->start, at(2028, 2, 1));
  EXPECT_EQ(month->end, at(2028, 3, 1));
  auto day = parseReportPeriod("2028-02-29");
  ASSERT_TRUE(day);
  EXPECT_FALSE(day->month);
  EXPECT_EQ(day->end - day->start, 86'400);
  for (const char* bad : {"2027-02-29", "2026-13", "2026-00", "26-11", "2026-11-31", "2026/11",
                          "2026-11-", "x", "", "2026-1-01"}) {
    EXPECT_FALSE(parseReportPeriod(bad)) << bad;
  }
  EXPECT_EQ(currentMonth(at(2026, 11, 26, 8)).id, "2026-11");
}

}  // namespace
}  // namespace atrium::proxy::metering
