#include "proxy/http/path_normalizer.h"

#include <gtest/gtest.h>

#include <string>

namespace atrium::proxy::http {
namespace {

// The normalised path, or "error:<reason>" so a failing expectation shows what happened.
std::string norm(std::string_view target) {
  NormalizedTarget out;
  PathError err = normalizeTarget(target, out);
  if (err != PathError::kNone) return std::string("error:") + describe(err);
  return out.path;
}

PathError errorOf(std::string_view target) {
  NormalizedTarget out;
  return normalizeTarget(target, out);
}

TEST(PathNormalizer, PlainPathsAreUnchanged) {
  EXPECT_EQ(norm("/"), "/");
  EXPECT_EQ(norm("/a"), "/a");
  EXPECT_EQ(norm("/a/b/c"), "/a/b/c");
  EXPECT_EQ(norm("/a-b_c.d~e"), "/a-b_c.d~e");
  EXPECT_EQ(norm("/v1/orders:search"), "/v1/orders:search");
  EXPECT_EQ(norm("/a;b=c/@x!$&'()*+,="), "/a;b=c/@x!$&'()*+,=");
}

TEST(PathNormalizer, UnreservedEscapesAreDecoded) {
  EXPECT_EQ(norm("/%7Euser"), "/~user");
  EXPECT_EQ(norm("/%7euser"), "/~user");
  EXPECT_EQ(norm("/%41%42c"), "/ABc");
  EXPECT_EQ(norm("/a%2Db%5Fc%2Ed"), "/a-b_c.d");
  EXPECT_EQ(norm("/%30%39"), "/09");
  // Decoding makes an encoded spelling of a route's path reach the same route.
  EXPECT_EQ(norm("/%61dmin/x"), "/admin/x");
}

TEST(PathNormalizer, OtherEscapesAreKeptWithUpperCaseHex) {
  EXPECT_EQ(norm("/a%3fb"), "/a%3Fb");
  EXPECT_EQ(norm("/a%3Fb"), "/a%3Fb");
  EXPECT_EQ(norm("/%e2%82%ac"), "/%E2%82%AC");
  EXPECT_EQ(norm("/a%20b"), "/a%20b");
  EXPECT_EQ(norm("/a%5cb"), "/a%5Cb");  // an encoded backslash stays encoded
  EXPECT_EQ(norm("/%23frag"), "/%23frag");
}

TEST(PathNormalizer, DecodingHappensOnce) {
  // "%25" is "%": it stays encoded, so "%2541" never becomes "A" (no double decoding).
  EXPECT_EQ(norm("/%2541"), "/%2541");
  EXPECT_EQ(norm("/%252F"), "/%252F");
  EXPECT_EQ(norm("/%252e%252e/x"), "/%252e%252e/x");
}

TEST(PathNormalizer, EncodedDotsAreDotSegments) {
  EXPECT_EQ(norm("/a/%2e%2e/b"), "/b");
  EXPECT_EQ(norm("/a/%2E%2E/b"), "/b");
  EXPECT_EQ(norm("/a/.%2e/b"), "/b");
  EXPECT_EQ(norm("/a/%2e/b"), "/a/b");
  EXPECT_EQ(norm("/a/b/%2e%2e"), "/a/");
}

TEST(PathNormalizer, DotSegmentsAreRemoved) {
  EXPECT_EQ(norm("/a/./b/../c"), "/a/c");
  EXPECT_EQ(norm("/a/b/.."), "/a/");
  EXPECT_EQ(norm("/a/b/../"), "/a/");
  EXPECT_EQ(norm("/a/."), "/a/");
  EXPECT_EQ(norm("/a/./"), "/a/");
  EXPECT_EQ(norm("/."), "/");
  EXPECT_EQ(norm("/./"), "/");
  EXPECT_EQ(norm("/a/.."), "/");
  EXPECT_EQ(norm("/a/../b/../c/./d"), "/c/d");
  // Segments that merely contain dots are ordinary names.
  EXPECT_EQ(norm("/a/.../b"), "/a/.../b");
  EXPECT_EQ(norm("/a/..b/c."), "/a/..b/c.");
  EXPECT_EQ(norm("/.well-known/x"), "/.well-known/x");
}

TEST(PathNormalizer, EmptySegmentsAreMerged) {
  EXPECT_EQ(norm("//"), "/");
  EXPECT_EQ(norm("//a///b"), "/a/b");
  EXPECT_EQ(norm("/a//"), "/a/");
  EXPECT_EQ(norm("/a//../b"), "/b");
}

TEST(PathNormalizer, TrailingSlashIsKept) {
  EXPECT_EQ(norm("/a/b/"), "/a/b/");
  EXPECT_EQ(norm("/a/b"), "/a/b");
  EXPECT_EQ(norm("/a/"), "/a/");
}

TEST(PathNormalizer, EncodedSlashIsRefused) {
  EXPECT_EQ(errorOf("/admin%2Fx"), PathError::kEncodedSlash);
  EXPECT_EQ(errorOf("/admin%2fx"), PathError::kEncodedSlash);
  EXPECT_EQ(errorOf("/%2F"), PathError::kEncodedSlash);
  EXPECT_EQ(errorOf("/a/..%2F..%2Fetc"), PathError::kEncodedSlash);
}

TEST(PathNormalizer, EncodedNulIsRefused) {
  EXPECT_EQ(errorOf("/a%00"), PathError::kNullByte);
  EXPECT_EQ(errorOf("/%00/b"), PathError::kNullByte);
}

TEST(PathNormalizer, EscapingTheRootIsRefused) {
  EXPECT_EQ(errorOf("/.."), PathError::kEscapesRoot);
  EXPECT_EQ(errorOf("/../"), PathError::kEscapesRoot);
  EXPECT_EQ(errorOf("/../a"), PathError::kEscapesRoot);
  EXPECT_EQ(errorOf("/a/../.."), PathError::kEscapesRoot);
  EXPECT_EQ(errorOf("/a/../../b"), PathError::kEscapesRoot);
  EXPECT_EQ(errorOf("/a/b/../../../etc/passwd"), PathError::kEscapesRoot);
  EXPECT_EQ(errorOf("/%2e%2e/x"), PathError::kEscapesRoot);
  EXPECT_EQ(errorOf("/a/%2e%2e/%2E%2E"), PathError::kEscapesRoot);
}

TEST(PathNormalizer, MalformedEscapesAreRefused) {
  for (const char* target :
       {"/%", "/a%", "/%4", "/a%4", "/%zz", "/%4g", "/%g4", "/%%41", "/a%/b", "/%4/b"}) {
    EXPECT_EQ(errorOf(target), PathError::kBadEscape) << target;
  }
}

TEST(PathNormalizer, ForbiddenCharactersAreRefused) {
  for (const char* target :
       {"/a#frag", "/a\\b", "/\\..\\x", "/a b", "/a\tb", "/a\x01", "/a\x7f", "/a\rb", "/a\nb"}) {
    EXPECT_EQ(errorOf(target), PathError::kBadCharacter) << target;
  }
}

TEST(PathNormalizer, NonOriginFormsAreRefused) {
  for (const char* target : {"", "*", "a/b", "example.com:443", "ftp://example.com/x", "?x=1"}) {
    EXPECT_EQ(errorOf(target), PathError::kNotOriginForm) << target;
  }
}

TEST(PathNormalizer, QueryIsKeptRawAndNotNormalised) {
  NormalizedTarget out;
  ASSERT_EQ(normalizeTarget("/a/./b?x=%2F&y=%00&z=/../..", out), PathError::kNone);
  EXPECT_EQ(out.path, "/a/b");
  EXPECT_EQ(out.query, "x=%2F&y=%00&z=/../..");

  ASSERT_EQ(normalizeTarget("/a?", out), PathError::kNone);
  EXPECT_EQ(out.path, "/a");
  EXPECT_EQ(out.query, "");

  ASSERT_EQ(normalizeTarget("/a?b?c=d", out), PathError::kNone);
  EXPECT_EQ(out.path, "/a");
  EXPECT_EQ(out.query, "b?c=d");

  // A '?' ends the path: what follows is not checked as path.
  ASSERT_EQ(normalizeTarget("/a?p=%zz", out), PathError::kNone);
  EXPECT_EQ(out.query, "p=%zz");
}

TEST(PathNormalizer, QueryResetsBetweenCalls) {
  NormalizedTarget out;
  ASSERT_EQ(normalizeTarget("/a?x=1", out), PathError::kNone);
  ASSERT_EQ(normalizeTarget("/b", out), PathError::kNone);
  EXPECT_EQ(out.path, "/b");
  EXPECT_EQ(out.query, "");
}

TEST(PathNormalizer, FragmentOrControlBytesInQueryAreRefused) {
  // '#' never reaches a server, and control bytes would be forwarded upstream verbatim.
  EXPECT_EQ(errorOf("/a?x=1#frag"), PathError::kBadCharacter);
  EXPECT_EQ(errorOf("/a?x=\x01"), PathError::kBadCharacter);
  EXPECT_EQ(errorOf("/a?x=1 HTTP/1.1\r\nX-Injected: 1"), PathError::kBadCharacter);
}

TEST(PathNormalizer, AbsoluteFormTargets) {
  NormalizedTarget out;
  ASSERT_EQ(normalizeTarget("http://example.com/a/../b?x=1", out), PathError::kNone);
  EXPECT_EQ(out.path, "/b");
  EXPECT_EQ(out.query, "x=1");

  ASSERT_EQ(normalizeTarget("https://example.com:8443/%7Ea/", out), PathError::kNone);
  EXPECT_EQ(out.path, "/~a/");
  EXPECT_EQ(out.query, "");

  ASSERT_EQ(normalizeTarget("http://example.com", out), PathError::kNone);
  EXPECT_EQ(out.path, "/");

  // An empty path with a query is still the root path (RFC 3986 §6.2.3).
  ASSERT_EQ(normalizeTarget("http://example.com?x=1", out), PathError::kNone);
  EXPECT_EQ(out.path, "/");
  EXPECT_EQ(out.query, "x=1");

  // Schemes are case-insensitive (RFC 3986 §3.1).
  ASSERT_EQ(normalizeTarget("HTTP://example.com/a", out), PathError::kNone);
  EXPECT_EQ(out.path, "/a");

  EXPECT_EQ(errorOf("http://example.com#frag"), PathError::kBadCharacter);

  // The same rules apply to the path of an absolute-form target.
  EXPECT_EQ(errorOf("http://example.com/a%2Fb"), PathError::kEncodedSlash);
  EXPECT_EQ(errorOf("http://example.com/.."), PathError::kEscapesRoot);
}

TEST(PathNormalizer, EveryErrorIsDescribed) {
  for (PathError e : {PathError::kNone, PathError::kNotOriginForm, PathError::kBadEscape,
                      PathError::kEncodedSlash, PathError::kNullByte, PathError::kEscapesRoot,
                      PathError::kBadCharacter}) {
    EXPECT_STRNE(describe(e), "") << static_cast<int>(e);
    EXPECT_STRNE(describe(e), "invalid path") << static_cast<int>(e);
  }
}

}  // namespace
}  // namespace atrium::proxy::http
