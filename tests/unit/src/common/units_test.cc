#include "src/common/units.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>

namespace atrium::common {
namespace {

// Milliseconds, or -1 when the text is refused.
int64_t ms(std::string_view text, int64_t bare_number_unit_ms = 0) {
  auto d = parseDuration(text, bare_number_unit_ms);
  return d ? d->count() : -1;
}

int64_t bytes(std::string_view text) {
  auto b = parseByteSize(text);
  return b ? static_cast<int64_t>(*b) : -1;
}

TEST(ParseDuration, SingleUnits) {
  EXPECT_EQ(ms("500ms"), 500);
  EXPECT_EQ(ms("2s"), 2000);
  EXPECT_EQ(ms("1m"), 60'000);
  EXPECT_EQ(ms("1h"), 3'600'000);
  EXPECT_EQ(ms("1d"), 86'400'000);
  EXPECT_EQ(ms("0s"), 0);
  EXPECT_EQ(ms("30s"), 30'000);
  EXPECT_EQ(ms("2000us"), 2);
  EXPECT_EQ(ms("3000000ns"), 3);
  EXPECT_EQ(ms("4000\u00b5s"), 4);
  EXPECT_EQ(ms("4000\u03bcs"), 4);
}

TEST(ParseDuration, GoStyleCompounds) {
  EXPECT_EQ(ms("1h30m"), 5'400'000);
  EXPECT_EQ(ms("1m30s"), 90'000);
  EXPECT_EQ(ms("2h45m30s"), (2 * 3600 + 45 * 60 + 30) * 1000);
  EXPECT_EQ(ms("1s500ms"), 1500);
  EXPECT_EQ(ms("1d12h"), 36 * 3'600'000);
}

TEST(ParseDuration, Fractions) {
  EXPECT_EQ(ms("1.5s"), 1500);
  EXPECT_EQ(ms("0.5h"), 1'800'000);
  EXPECT_EQ(ms(".5s"), 500);
  EXPECT_EQ(ms("2.5ms"), 3);  // rounded to the nearest millisecond
}

TEST(ParseDuration, ZeroNeedsNoUnit) {
  // Go accepts a bare "0".
  EXPECT_EQ(ms("0"), 0);
}

TEST(ParseDuration, BareNumbersOnlyWithAUnit) {
  EXPECT_EQ(ms("60"), -1);
  EXPECT_EQ(ms("60", 1000), 60'000);  // ingress-nginx timeouts are plain seconds
  EXPECT_EQ(ms("1.5", 1000), 1500);
  EXPECT_EQ(ms("60s", 1000), 60'000);  // an explicit unit still wins
  EXPECT_EQ(ms("1m30", 1000), -1);     // a bare number only as the whole value
}

TEST(ParseDuration, Invalid) {
  for (const char* text :
       {"",      "s",      "ms",    "abc", "10x",  "10 s", " 10s", "10s ", "-5s",  "+5s",  "1h-30m",
        "1..5s", "1.2.3s", "1.s.s", ".s",  "1h30", "5S",   "1H",   "1sec", "1e3s", "0x10s"}) {
    EXPECT_EQ(ms(text), -1) << "'" << text << "'";
  }
}

TEST(ParseDuration, Overflow) {
  EXPECT_EQ(ms("9999999999999999h"), -1);
  EXPECT_EQ(ms("100000000000000000000000000000s"), -1);
}

TEST(ParseByteSize, PlainAndBinaryUnits) {
  EXPECT_EQ(bytes("0"), 0);
  EXPECT_EQ(bytes("1024"), 1024);
  EXPECT_EQ(bytes("512b"), 512);
  EXPECT_EQ(bytes("512B"), 512);
  EXPECT_EQ(bytes("10k"), 10 * 1024);
  EXPECT_EQ(bytes("10K"), 10 * 1024);
  EXPECT_EQ(bytes("10Ki"), 10 * 1024);
  EXPECT_EQ(bytes("8m"), 8 * 1024 * 1024);  // nginx's client_max_body_size 8m
  EXPECT_EQ(bytes("8M"), 8 * 1024 * 1024);
  EXPECT_EQ(bytes("10Mi"), 10 * 1024 * 1024);
  EXPECT_EQ(bytes("1g"), int64_t{1} << 30);
  EXPECT_EQ(bytes("1G"), int64_t{1} << 30);
  EXPECT_EQ(bytes("1Gi"), int64_t{1} << 30);
  EXPECT_EQ(bytes("1.5Mi"), 1536 * 1024);
}

TEST(ParseByteSize, DecimalUnits) {
  EXPECT_EQ(bytes("10kB"), 10'000);
  EXPECT_EQ(bytes("10KB"), 10'000);
  EXPECT_EQ(bytes("10MB"), 10'000'000);
  EXPECT_EQ(bytes("2GB"), 2'000'000'000);
}

TEST(ParseByteSize, Invalid) {
  for (const char* text : {"", "Mi", "abc", "10X", "10 Mi", " 10", "10Mi ", "-1", "-1M", "10mb",
                           "10MiB", "1..5M", "1.2.3k", "1e6", "0x10", "10iM"}) {
    EXPECT_EQ(bytes(text), -1) << "'" << text << "'";
  }
}

TEST(ParseByteSize, Overflow) {
  EXPECT_EQ(bytes("100000000000G"), -1);
  EXPECT_EQ(parseByteSize("16Gi"), uint64_t{16} << 30);
}

}  // namespace
}  // namespace atrium::common
