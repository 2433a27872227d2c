#include "proxy/http/request_id.h"

#include <gtest/gtest.h>
#include <re2/re2.h>

#include <set>
#include <string>

namespace atrium::proxy::http {
namespace {

constexpr const char* kIncoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TEST(RequestId, IsARandomUuidV4) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string id = newRequestId();
    ASSERT_TRUE(
        RE2::FullMatch(id, "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"))
        << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(RequestId, GeneratedIdsAreAcceptable) { EXPECT_TRUE(isAcceptableRequestId(newRequestId())); }

TEST(RequestId, AcceptableClientIds) {
  for (const char* id :
       {"a", "abc-123", "f81d4fae-7dec-11d0-a765-00a0c91e6bf6", "req:42/x.y_z~", "ABC{}[]<>|=+"}) {
    EXPECT_TRUE(isAcceptableRequestId(id)) << id;
  }
  EXPECT_TRUE(isAcceptableRequestId(std::string(128, 'x')));
}

TEST(RequestId, UnacceptableClientIds) {
  for (const char* id : {"", "has space", "quo\"te", "back\\slash", "tab\there", "new\nline",
                         "cr\rlf", "nul\x01", "del\x7f", "caf\xc3\xa9"}) {
    EXPECT_FALSE(isAcceptableRequestId(id)) << id;
  }
  EXPECT_FALSE(isAcceptableRequestId(std::string(129, 'x')));
}

TEST(Traceparent, PropagatesTraceIdAndFlagsWithANewSpan) {
  std::string out = nextTraceparent(kIncoming);
  ASSERT_TRUE(RE2::FullMatch(out, "00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}")) << out;
  EXPECT_EQ(out.substr(3, 32), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_NE(out.substr(36, 16), "00f067aa0ba902b7");
  EXPECT_NE(out.substr(36, 16), "0000000000000000");
  EXPECT_EQ(out.substr(53), "01");
  EXPECT_NE(nextTraceparent(kIncoming).substr(36, 16), nextTraceparent(kIncoming).substr(36, 16));
}

TEST(Traceparent, UnsampledFlagIsKept) {
  std::string out = nextTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
  EXPECT_EQ(out.substr(3, 32), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(out.substr(53), "00");
}

TEST(Traceparent, CreatedWhenAbsent) {
  std::string a = nextTraceparent("");
  std::string b = nextTraceparent("");
  EXPECT_TRUE(RE2::FullMatch(a, "00-[0-9a-f]{32}-[0-9a-f]{16}-01")) << a;
  EXPECT_NE(a.substr(3, 32), b.substr(3, 32));
  EXPECT_NE(a.substr(3, 32), std::string(32, '0'));
}

TEST(Traceparent, InvalidIncomingStartsANewTrace) {
  const std::string trace = "4bf92f3577b34da6a3ce929d0e0e4736";
  for (std::string bad : {
           std::string("garbage"),
           std::string("00-") + trace + "-00f067aa0ba902b7-0",    // short
           std::string("00-") + trace + "-00f067aa0ba902b7-01-",  // v00 is exactly 55
           std::string("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"),  // upper case
           std::string("00-00000000000000000000000000000000-00f067aa0ba902b7-01"),  // zero trace
           std::string("00-") + trace + "-0000000000000000-01",                     // zero parent
           std::string("ff-") + trace + "-00f067aa0ba902b7-01",  // forbidden version
           std::string("00_") + trace + "-00f067aa0ba902b7-01",
           std::string("00-") + trace + "-00f067aa0ba902bg-01",
       }) {
    std::string out = nextTraceparent(bad);
    EXPECT_TRUE(RE2::FullMatch(out, "00-[0-9a-f]{32}-[0-9a-f]{16}-01")) << bad << " → " << out;
    EXPECT_NE(out.substr(3, 32), trace) << bad;
  }
}

TEST(Traceparent, FutureVersionIsReadAsVersion00) {
  // W3C Trace Context §3.2.4: a higher version is parsed by the version-00 layout, extra fields
  // after a '-' are ignored, and what is sent on is version 00.
  const std::string trace = "4bf92f3577b34da6a3ce929d0e0e4736";
  std::string out = nextTraceparent("01-" + trace + "-00f067aa0ba902b7-01-extra");
  EXPECT_EQ(out.substr(0, 3), "00-");
  EXPECT_EQ(out.substr(3, 32), trace);
  EXPECT_EQ(out.substr(53), "01");
  // ... but only when the field after the flags is separated by '-'.
  EXPECT_NE(nextTraceparent("01-" + trace + "-00f067aa0ba902b7-01x").substr(3, 32), trace);
}

}  // namespace
}  // namespace atrium::proxy::http
