#include "proxy/cache/http_date.h"

#include <gtest/gtest.h>

namespace atrium::proxy::cache {
namespace {

using std::chrono::sys_seconds;

// Sun, 06 Nov 1994 08:49:37 GMT, the example of RFC 9110 §5.6.7.
constexpr sys_seconds kExample{std::chrono::seconds{784111777}};

TEST(CacheHttpDateTest, AcceptsTheThreeFormats) {
  EXPECT_EQ(parseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT"), kExample);
  EXPECT_EQ(parseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT"), kExample);
  EXPECT_EQ(parseHttpDate("Sun Nov  6 08:49:37 1994"), kExample);
  EXPECT_EQ(parseHttpDate("  Sun, 06 Nov 1994 08:49:37 GMT\t"), kExample);
}

TEST(CacheHttpDateTest, AsctimeTwoDigitDays) {
  EXPECT_EQ(parseHttpDate("Wed Nov 16 08:49:37 1994"), kExample + std::chrono::days{10});
}

TEST(CacheHttpDateTest, Rfc850TwoDigitYearsPivotAt70) {
  EXPECT_EQ(parseHttpDate("Thursday, 01-Jan-70 00:00:00 GMT"), sys_seconds{});
  auto y2030 = parseHttpDate("Tuesday, 01-Jan-30 00:00:00 GMT");
  ASSERT_TRUE(y2030);
  EXPECT_EQ(parseHttpDate("Tue, 01 Jan 2030 00:00:00 GMT"), y2030);
}

TEST(CacheHttpDateTest, LeapYearsAndEpoch) {
  EXPECT_EQ(parseHttpDate("Thu, 01 Jan 1970 00:00:00 GMT"), sys_seconds{});
  EXPECT_TRUE(parseHttpDate("Thu, 29 Feb 2024 12:00:00 GMT"));
  EXPECT_FALSE(parseHttpDate("Thu, 29 Feb 2023 12:00:00 GMT"));
}

TEST(CacheHttpDateTest, RefusesEverythingElse) {
  for (const char* bad : {"", "0", "-1", "tomorrow", "Sun, 06 Nov 1994 08:49:37 PST",
                          "Sun, 06 Nov 1994 08:49:37", "Sun, 6 Nov 1994 08:49:37 GMT",
                          "Sun, 31 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 24:00:00 GMT",
                          "Sun, 06 Nov 1994 08:60:00 GMT", "Xyz, 06 Nov 1994 08:49:37 GMT",
                          "sun, 06 nov 1994 08:49:37 gmt", "Sun, 06 Nov 1994 08:49:37 GMT trailing",
                          "Sun Nov 6 08:49:37 1994", "Sunday, 06-Nov-1994 08:49:37 GMT"}) {
    EXPECT_FALSE(parseHttpDate(bad)) << bad;
  }
}

}  // namespace
}  // namespace atrium::proxy::cache
