#include "proxy/filters/authenticator.h"

#include <crypt.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/unit/support/test_certs.h"
#include "tests/unit/support/test_jwt.h"

namespace atrium::proxy::filters {
namespace {

using nlohmann::json;

constexpr int64_t kNow = 1'700'000'000;  // the injected clock of every JWT check here

// ---------------------------------------------------------------------------------------------
// Helpers.

// A request's headers; lookups ignore the case of the name, as Beast's do.
class Headers {
 public:
  Headers() = default;
  Headers(std::initializer_list<std::pair<const std::string, std::string>> fields) {
    for (const auto& [name, value] : fields) fields_[lower(name)] = value;
  }
  HeaderLookup lookup() const {
    return [this](std::string_view name) -> std::optional<std::string_view> {
      auto it = fields_.find(lower(std::string(name)));
      if (it == fields_.end()) return std::nullopt;
      return std::string_view(it->second);
    };
  }

 private:
  static std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
  }
  std::map<std::string, std::string> fields_;
};

// A bcrypt hash of `password` with the lowest cost (4), made through libxcrypt.
std::string bcrypt(const std::string& password, const char* prefix = "$2b$") {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  if (!crypt_gensalt_rn(prefix, 4, nullptr, 0, salt, sizeof salt)) {
    throw std::runtime_error("crypt_gensalt_rn failed");
  }
  auto data = std::make_unique<crypt_data>();
  const char* hashed = crypt_rn(password.c_str(), salt, data.get(), sizeof(crypt_data));
  if (!hashed || hashed[0] == '*') throw std::runtime_error("crypt_rn failed");
  return hashed;
}

std::string plainPassword(const std::string& password) {
  return "sha256:" + test_certs::sha256Hex(password);
}

std::string basicHeader(const std::string& credentials, const std::string& scheme = "Basic") {
  return scheme + " " + test_certs::base64(credentials);
}

config::Consumer consumer(const std::string& ns, const std::string& name) {
  config::Consumer c;
  c.ns = ns;
  c.name = name;
  return c;
}

// The consumers of every test: shop/alice (API keys), shop/bob (plain password, group
// "staff"), shop/carol (bcrypt password, groups "dev" and "admins"), shop/dave (JWT subject),
// and other/eve holding alice's key, bob's user name and dave's subject in another namespace.
std::vector<config::Consumer> makeConsumers() {
  std::vector<config::Consumer> out;
  auto alice = consumer("shop", "alice");
  alice.api_key_sha256 = {test_certs::sha256Hex("alice-key-1"),
                          test_certs::sha256Hex("alice-key-2")};
  out.push_back(alice);
  auto bob = consumer("shop", "bob");
  bob.basic_username = "bob";
  bob.basic_password = plainPassword("s3cret");
  bob.groups = {"staff"};
  bob.api_key_sha256 = {test_certs::sha256Hex("bob-key")};
  out.push_back(bob);
  auto carol = consumer("shop", "carol");
  carol.basic_username = "carol";
  carol.basic_password = bcrypt("hunter2");
  carol.groups = {"dev", "admins"};
  out.push_back(carol);
  auto dave = consumer("shop", "dave");
  dave.jwt_subject = "user-42";
  dave.groups = {"admins"};
  out.push_back(dave);
  auto eve = consumer("other", "eve");
  eve.api_key_sha256 = {test_certs::sha256Hex("alice-key-1")};
  eve.basic_username = "bob";
  eve.basic_password = plainPassword("s3cret");
  eve.jwt_subject = "user-42";
  out.push_back(eve);
  return out;
}

const std::vector<config::Consumer>& consumers() {
  static const auto* list = new std::vector<config::Consumer>(makeConsumers());
  return *list;
}

const ConsumerIndex& index() {
  static const auto* idx = new ConsumerIndex(consumers());
  return *idx;
}

const config::Consumer* named(const std::string& name) {
  for (const auto& c : consumers()) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

config::AuthPolicy apiKeyPolicy() {
  config::AuthPolicy p;
  p.api_key = true;
  p.consumer_namespace = "shop";
  return p;
}

config::AuthPolicy basicPolicy() {
  config::AuthPolicy p;
  p.basic = true;
  p.basic_realm = "shop";
  p.consumer_namespace = "shop";
  return p;
}

AuthResult run(const config::AuthPolicy& policy, const Headers& headers,
               std::string_view query = "", const JwtRuntime* jwt = nullptr,
               int64_t now = kNow) {
  static PasswordVerifier passwords;  // one per worker in the proxy; one per binary here
  return authenticate(policy, index(), headers.lookup(), query, passwords, jwt, now);
}

// ---------------------------------------------------------------------------------------------
// ConsumerIndex.

TEST(AuthenticatorConsumerIndex, ApiKeysPerNamespace) {
  const auto& idx = index();
  EXPECT_EQ(idx.byApiKey("shop", "alice-key-1"), named("alice"));
  EXPECT_EQ(idx.byApiKey("shop", "alice-key-2"), named("alice"));
  EXPECT_EQ(idx.byApiKey("shop", "bob-key"), named("bob"));
  EXPECT_EQ(idx.byApiKey("other", "alice-key-1"), named("eve"));
  EXPECT_EQ(idx.byApiKey("other", "alice-key-2"), nullptr);
  EXPECT_EQ(idx.byApiKey("nowhere", "alice-key-1"), nullptr);
  EXPECT_EQ(idx.byApiKey("", "alice-key-1"), nullptr);
  EXPECT_EQ(idx.byApiKey("shop", "alice-key-3"), nullptr);
  EXPECT_EQ(idx.byApiKey("shop", "Alice-key-1"), nullptr);
  EXPECT_EQ(idx.byApiKey("shop", "alice-key-1 "), nullptr);
  EXPECT_EQ(idx.byApiKey("shop", ""), nullptr);
  // The stored digest is not itself a key.
  EXPECT_EQ(idx.byApiKey("shop", test_certs::sha256Hex("alice-key-1")), nullptr);
  // No namespace/key splicing: "sho" + "p..." is not "shop" + "...".
  EXPECT_EQ(idx.byApiKey("sho", "palice-key-1"), nullptr);
}

TEST(AuthenticatorConsumerIndex, UsersPerNamespace) {
  const auto& idx = index();
  EXPECT_EQ(idx.byUser("shop", "bob"), named("bob"));
  EXPECT_EQ(idx.byUser("shop", "carol"), named("carol"));
  EXPECT_EQ(idx.byUser("other", "bob"), named("eve"));
  EXPECT_EQ(idx.byUser("other", "carol"), nullptr);
  EXPECT_EQ(idx.byUser("shop", "Bob"), nullptr);
  EXPECT_EQ(idx.byUser("shop", "bob "), nullptr);
  EXPECT_EQ(idx.byUser("shop", "alice"), nullptr);  // a consumer without Basic credentials
  EXPECT_EQ(idx.byUser("shop", ""), nullptr);
  EXPECT_EQ(idx.byUser("shop", std::string("bob\0", 4)), nullptr);
  EXPECT_EQ(idx.byUser(std::string("shop\0bob", 8), ""), nullptr);
}

TEST(AuthenticatorConsumerIndex, JwtSubjectsPerNamespace) {
  const auto& idx = index();
  EXPECT_EQ(idx.byJwtSubject("shop", "user-42"), named("dave"));
  EXPECT_EQ(idx.byJwtSubject("other", "user-42"), named("eve"));
  EXPECT_EQ(idx.byJwtSubject("shop", "user-4"), nullptr);
  EXPECT_EQ(idx.byJwtSubject("shop", "dave"), nullptr);  // the name is not the subject
  EXPECT_EQ(idx.byJwtSubject("shop", ""), nullptr);
  EXPECT_EQ(idx.byJwtSubject("nowhere", "user-42"), nullptr);
}

TEST(AuthenticatorConsumerIndex, EmptyIndexFindsNothing) {
  const ConsumerIndex empty;
  EXPECT_EQ(empty.byApiKey("shop", "alice-key-1"), nullptr);
  EXPECT_EQ(empty.byUser("shop", "bob"), nullptr);
  EXPECT_EQ(empty.byJwtSubject("shop", "user-42"), nullptr);
  const ConsumerIndex from_nothing(std::vector<config::Consumer>{});
  EXPECT_EQ(from_nothing.byUser("", ""), nullptr);
}

// ---------------------------------------------------------------------------------------------
// queryParam / withoutQueryParam.

TEST(AuthenticatorQuery, FindsTheParameter) {
  EXPECT_EQ(queryParam("api_key=k", "api_key"), "k");
  EXPECT_EQ(queryParam("a=1&api_key=k&b=2", "api_key"), "k");
  EXPECT_EQ(queryParam("a=1&b=2&api_key=k", "api_key"), "k");
  EXPECT_EQ(queryParam("api_key=a=b", "api_key"), "a=b");
  EXPECT_EQ(queryParam("&&api_key=k&", "api_key"), "k");
  EXPECT_EQ(queryParam("a=1&b=2", "api_key"), std::nullopt);
  EXPECT_EQ(queryParam("", "api_key"), std::nullopt);
}

TEST(AuthenticatorQuery, PercentDecoding) {
  EXPECT_EQ(queryParam("k=a%2Bb%20c%3D%26", "k"), "a+b c=&");
  EXPECT_EQ(queryParam("k=%2b%2f%3a", "k"), "+/:");  // lower-case hex too
  EXPECT_EQ(queryParam("k=a+b+", "k"), "a b ");      // '+' is a space
  EXPECT_EQ(queryParam("k=%2B", "k"), "+");          // an encoded '+' stays a '+'
  EXPECT_EQ(queryParam("k=%00x", "k"), std::string("\0x", 2));
  EXPECT_EQ(queryParam("k=%C3%A9", "k"), "\xc3\xa9");
  // Not an escape: kept as it is.
  EXPECT_EQ(queryParam("k=%", "k"), "%");
  EXPECT_EQ(queryParam("k=%4", "k"), "%4");
  EXPECT_EQ(queryParam("k=%zz", "k"), "%zz");
  EXPECT_EQ(queryParam("k=%%41", "k"), "%A");
  EXPECT_EQ(queryParam("k=100%", "k"), "100%");
  // Decoded once only.
  EXPECT_EQ(queryParam("k=%2541", "k"), "%41");
  // The name is decoded too.
  EXPECT_EQ(queryParam("api%5Fkey=k", "api_key"), "k");
  EXPECT_EQ(queryParam("api%5fkey=k", "api_key"), "k");
  EXPECT_EQ(queryParam("my+key=k", "my key"), "k");
}

TEST(AuthenticatorQuery, RepeatedAndLookAlikeNames) {
  EXPECT_EQ(queryParam("api_key=1&api_key=2", "api_key"), "1");
  EXPECT_EQ(queryParam("xapi_key=1&api_keyx=2&API_KEY=3&api_key_=4&api-key=5&api_key=6",
                       "api_key"),
            "6");
  EXPECT_EQ(queryParam("xapi_key=1&api_keyx=2&API_KEY=3", "api_key"), std::nullopt);
  EXPECT_EQ(queryParam("api_key%00=1&api_key=2", "api_key"), "2");
  EXPECT_EQ(queryParam("a=api_key&b=api_key=1", "api_key"), std::nullopt);  // values only
}

TEST(AuthenticatorQuery, EmptyValues) {
  EXPECT_EQ(queryParam("api_key=", "api_key"), "");
  EXPECT_EQ(queryParam("api_key", "api_key"), "");
  EXPECT_EQ(queryParam("api_key&x=1", "api_key"), "");
  EXPECT_EQ(queryParam("x=1&api_key=&api_key=2", "api_key"), "");
}

TEST(AuthenticatorQuery, WithoutParamKeepsTheRestAsItWas) {
  EXPECT_EQ(withoutQueryParam("a=1&api_key=s&b=2", "api_key"), "a=1&b=2");
  EXPECT_EQ(withoutQueryParam("api_key=s", "api_key"), "");
  EXPECT_EQ(withoutQueryParam("api_key=s&b=2", "api_key"), "b=2");
  EXPECT_EQ(withoutQueryParam("b=2&api_key=s", "api_key"), "b=2");
  EXPECT_EQ(withoutQueryParam("", "api_key"), "");
  // Every occurrence, in whatever spelling decodes to the name, with or without a value.
  EXPECT_EQ(withoutQueryParam("api_key=1&a=1&api_key=2&api%5Fkey=3&api_key&api_key=", "api_key"),
            "a=1");
  // Others keep their order and their bytes (no decoding, no re-encoding).
  EXPECT_EQ(withoutQueryParam("z=%20+&api_key=s&y=%2B&x&w=&xapi_key=1&API_KEY=2", "api_key"),
            "z=%20+&y=%2B&x&w=&xapi_key=1&API_KEY=2");
  EXPECT_EQ(withoutQueryParam("c=3&b=2&a=1", "api_key"), "c=3&b=2&a=1");
  // Empty pairs go.
  EXPECT_EQ(withoutQueryParam("a=1&&b=2&", "api_key"), "a=1&b=2");
  EXPECT_EQ(withoutQueryParam("&api_key=s&", "api_key"), "");
}

// ---------------------------------------------------------------------------------------------
// sha256Hex, PasswordVerifier.

TEST(AuthenticatorSha256, Vectors) {
  EXPECT_EQ(sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  const std::string binary("\0\xff\x80 key\n", 8);
  EXPECT_EQ(sha256Hex(binary), test_certs::sha256Hex(binary));
  const std::string million(1'000'000, 'a');
  EXPECT_EQ(sha256Hex(million), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(AuthenticatorPasswords, PlainDigest) {
  PasswordVerifier v;
  EXPECT_TRUE(v.verify(plainPassword("s3cret"), "s3cret"));
  EXPECT_FALSE(v.verify(plainPassword("s3cret"), "s3cret "));
  EXPECT_FALSE(v.verify(plainPassword("s3cret"), "S3cret"));
  EXPECT_FALSE(v.verify(plainPassword("s3cret"), ""));
  EXPECT_TRUE(v.verify(plainPassword(""), ""));
  EXPECT_FALSE(v.verify("sha256:", ""));
  EXPECT_FALSE(v.verify("sha256:", "s3cret"));
  // The stored form is a digest, never the password itself.
  EXPECT_FALSE(v.verify("sha256:s3cret", "s3cret"));
  EXPECT_FALSE(v.verify("s3cret", "s3cret"));
  const std::string with_nul("pa\0ss", 5);
  EXPECT_TRUE(v.verify(plainPassword(with_nul), with_nul));
  EXPECT_FALSE(v.verify(plainPassword(with_nul), "pa"));
}

TEST(AuthenticatorPasswords, Bcrypt) {
  PasswordVerifier v;
  for (const char* prefix : {"$2b$", "$2y$", "$2a$"}) {
    const std::string stored = bcrypt("correct horse", prefix);
    ASSERT_EQ(stored.size(), 60u) << stored;
    ASSERT_EQ(stored.rfind(std::string(prefix) + "04$", 0), 0u) << stored;
    // Twice each: the second answer comes from the cache, and must be the same.
    for (int round = 0; round < 2; ++round) {
      EXPECT_TRUE(v.verify(stored, "correct horse")) << prefix << round;
      EXPECT_FALSE(v.verify(stored, "correct horse ")) << prefix << round;
      EXPECT_FALSE(v.verify(stored, "Correct horse")) << prefix << round;
      EXPECT_FALSE(v.verify(stored, "")) << prefix << round;
    }
  }
  // Two hashes of different passwords: verdicts cached per (hash, password).
  const std::string a = bcrypt("alpha");
  const std::string b = bcrypt("beta");
  EXPECT_TRUE(v.verify(a, "alpha"));
  EXPECT_FALSE(v.verify(b, "alpha"));
  EXPECT_TRUE(v.verify(b, "beta"));
  EXPECT_FALSE(v.verify(a, "beta"));
}

TEST(AuthenticatorPasswords, UnusableStoredFormsVerifyNothing) {
  PasswordVerifier v;
  const std::string good = bcrypt("pw");
  for (const std::string& stored :
       {std::string(), std::string("*"), std::string("*0"), std::string("$2b$"),
        std::string("$2b$04$"), good.substr(0, 59), std::string("$2b$04$") + std::string(53, '!'),
        std::string("garbage")}) {
    EXPECT_FALSE(v.verify(stored, "pw")) << stored;
    EXPECT_FALSE(v.verify(stored, "")) << stored;
    EXPECT_FALSE(v.verify(stored, stored)) << stored;
  }
}

TEST(AuthenticatorPasswords, CacheStaysBoundedAndCorrect) {
  // More distinct (stored, password) pairs than the cache holds (4096): it is cleared and
  // refills, and verdicts stay right across the clearing. Unusable stored forms keep it cheap.
  PasswordVerifier v;
  const std::string stored = bcrypt("right");
  EXPECT_TRUE(v.verify(stored, "right"));
  EXPECT_FALSE(v.verify(stored, "wrong"));
  for (int i = 0; i < 5000; ++i) {
    ASSERT_FALSE(v.verify("*not-a-hash-" + std::to_string(i), "right")) << i;
  }
  EXPECT_TRUE(v.verify(stored, "right"));
  EXPECT_FALSE(v.verify(stored, "wrong"));
}

// ---------------------------------------------------------------------------------------------
// API keys.

TEST(AuthenticatorApiKey, ByHeader) {
  const auto policy = apiKeyPolicy();
  auto r = run(policy, {{"X-API-Key", "alice-key-1"}});
  EXPECT_EQ(r.outcome, AuthOutcome::kOk);
  EXPECT_EQ(r.consumer, named("alice"));
  EXPECT_FALSE(r.bad_token);
  // The header name is case-insensitive; the value is trimmed.
  r = run(policy, {{"x-api-key", " \talice-key-2\t "}});
  EXPECT_EQ(r.outcome, AuthOutcome::kOk);
  EXPECT_EQ(r.consumer, named("alice"));
  r = run(policy, {{"X-Api-Key", "bob-key"}});
  EXPECT_EQ(r.consumer, named("bob"));
}

TEST(AuthenticatorApiKey, WrongEmptyOrMissing) {
  const auto policy = apiKeyPolicy();
  for (const char* value : {"alice-key-3", "ALICE-KEY-1", "", "  ", "alice-key-1x"}) {
    const auto r = run(policy, {{"X-API-Key", value}});
    EXPECT_EQ(r.outcome, AuthOutcome::kInvalid) << value;
    EXPECT_EQ(r.consumer, nullptr) << value;
  }
  auto r = run(policy, {});
  EXPECT_EQ(r.outcome, AuthOutcome::kMissing);
  EXPECT_EQ(r.consumer, nullptr);
  // Another header, or the query without a configured parameter: missing.
  r = run(policy, {{"X-API-Token", "alice-key-1"}, {"Authorization", "alice-key-1"}},
          "api_key=alice-key-1&X-API-Key=alice-key-1");
  EXPECT_EQ(r.outcome, AuthOutcome::kMissing);
}

TEST(AuthenticatorApiKey, KeyOfAnotherNamespaceIsInvalid) {
  auto policy = apiKeyPolicy();
  policy.consumer_namespace = "other";
  auto r = run(policy, {{"X-API-Key", "bob-key"}});
  EXPECT_EQ(r.outcome, AuthOutcome::kInvalid);
  r = run(policy, {{"X-API-Key", "alice-key-1"}});
  EXPECT_EQ(r.outcome, AuthOutcome::kOk);
  EXPECT_EQ(r.consumer, named("eve"));
}

TEST(AuthenticatorApiKey, CustomHeader) {
  auto policy = apiKeyPolicy();
  policy.api_key_header = "Authorization-Key";
  EXPECT_EQ(run(policy, {{"X-API-Key", "alice-key-1"}}).outcome, AuthOutcome::kMissing);
  EXPECT_EQ(run(policy, {{"authorization-key", "alice-key-1"}}).consumer, named("alice"));
}

TEST(AuthenticatorApiKey, ByQueryParam) {
  auto policy = apiKeyPolicy();
  policy.api_key_query_param = "api_key";
  auto r = run(policy, {}, "page=2&api_key=alice-key-1");
  EXPECT_EQ(r.outcome, AuthOutcome::kOk);
  EXPECT_EQ(r.consumer, named("alice"));
  // Percent-encoded key and name.
  EXPECT_EQ(run(policy, {}, "api%5Fkey=alice%2Dkey%2D2").consumer, named("alice"));
  // The first occurrence counts.
  EXPECT_EQ(run(policy, {}, "api_key=bob-key&api_key=alice-key-1").consumer, named("bob"));
  EXPECT_EQ(run(policy, {}, "api_key=nope&api_key=alice-key-1").outcome, AuthOutcome::kInvalid);
  // Present but empty, or wrong: invalid. Absent: missing.
  EXPECT_EQ(run(policy, {}, "api_key=").outcome, AuthOutcome::kInvalid);
  EXPECT_EQ(run(policy, {}, "api_key").outcome, AuthOutcome::kInvalid);
  EXPECT_EQ(run(policy, {}, "api_key=alice-key-9").outcome, AuthOutcome::kInvalid);
  EXPECT_EQ(run(policy, {}, "xapi_key=alice-key-1").outcome, AuthOutcome::kMissing);
  EXPECT_EQ(run(policy, {}, "").outcome, AuthOutcome::kMissing);
  // The query value is not trimmed: a space is part of the key.
  EXPECT_EQ(run(policy, {}, "api_key=+alice-key-1").outcome, AuthOutcome::kInvalid);
}

TEST(AuthenticatorApiKey, HeaderWinsOverQuery) {
  auto policy = apiKeyPolicy();
  policy.api_key_query_param = "api_key";
  auto r = run(policy, {{"X-API-Key", "bob-key"}}, "api_key=alice-key-1");
  EXPECT_EQ(r.consumer, named("bob"));
  r = run(policy, {{"X-API-Key", "wrong"}}, "api_key=alice-key-1");
  EXPECT_EQ(r.outcome, AuthOutcome::kInvalid);
  EXPECT_EQ(r.consumer, nullptr);
}

// ---------------------------------------------------------------------------------------------
// Basic.

TEST(AuthenticatorBasic, PlainAndBcryptPasswords) {
  const auto policy = basicPolicy();
  auto r = run(policy, {{"Authorization", basicHeader("bob:s3cret")}});
  EXPECT_EQ(r.outcome, AuthOutcome::kOk);
  EXPECT_EQ(r.consumer, named("bob"));
  EXPECT_FALSE(r.bad_token);
  r = run(policy, {{"Authorization", basicHeader("carol:hunter2")}});
  EXPECT_EQ(r.outcome, AuthOutcome::kOk);
  EXPECT_EQ(r.consumer, named("carol"));
  // Again (the bcrypt verdict now cached).
  EXPECT_EQ(run(policy, {{"Authorization", basicHeader("carol:hunter2")}}).consumer,
            named("carol"));
}

TEST(AuthenticatorBasic, WrongPasswordOrUnknownUser) {
  const auto policy = basicPolicy();
  for (const char* credentials :
       {"bob:S3cret", "bob:s3cret ", "bob:", "carol:hunter3", "carol:", "carol:s3cret",
        "bob:hunter2", "dave:anything", "alice:", "eve:s3cret", "Bob:s3cret", " bob:s3cret",
        ":s3cret", ":"}) {
    const auto r = run(policy, {{"Authorization", basicHeader(credentials)}});
    EXPECT_EQ(r.outcome, AuthOutcome::kInvalid) << credentials;
    EXPECT_EQ(r.consumer, nullptr) << credentials;
  }
}

TEST(AuthenticatorBasic, UserOfAnotherNamespace) {
  auto policy = basicPolicy();
  policy.consumer_namespace = "other";
  EXPECT_EQ(run(policy, {{"Authorization", basicHeader("bob:s3cret")}}).consumer, named("eve"));
  EXPECT_EQ(run(policy, {{"Authorization", basicHeader("carol:hunter2")}}).outcome,
            AuthOutcome::kInvalid);
}

TEST(AuthenticatorBasic, PasswordMayHoldColons) {
  // RFC 7617: the user-id ends at the first colon.
  config::Consumer c = consumer("shop", "frank");
  c.basic_username = "frank";
  c.basic_password = plainPassword("a:b:c");
  const std::vector<config::Consumer> list = {c};
  const ConsumerIndex idx(list);
  PasswordVerifier v;
  const Headers ok = {{"Authorization", basicHeader("frank:a:b:c")}};
  EXPECT_EQ(authenticate(basicPolicy(), idx, ok.lookup(), "", v, nullptr, kNow).outcome,
            AuthOutcome::kOk);
  const Headers bad = {{"Authorization", basicHeader("frank:a:b")}};
  EXPECT_EQ(authenticate(basicPolicy(), idx, bad.lookup(), "", v, nullptr, kNow).outcome,
            AuthOutcome::kInvalid);
}

TEST(AuthenticatorBasic, MalformedCredentials) {
  const auto policy = basicPolicy();
  // No colon, bad base64, nothing decodable: presented, so invalid (not missing).
  for (const std::string& value :
       {basicHeader("bobs3cret"), basicHeader("x"), std::string("Basic !!!!"),
        std::string("Basic Ym9iOnMzY3JldA=x"), std::string("Basic bob:s3cret"),
        std::string("Basic ====")}) {
    const auto r = run(policy, {{"Authorization", value}});
    EXPECT_EQ(r.outcome, AuthOutcome::kInvalid) << value;
    EXPECT_EQ(r.consumer, nullptr) << value;
  }
  // Not the Basic scheme at all: missing.
  for (const std::string& value : {std::string("Basic"), std::string("Basic "),
                                  std::string("Basicx Ym9iOnMzY3JldA=="),
                                  std::string("Ym9iOnMzY3JldA=="), std::string("Bearer abc"),
                                  std::string("Digest username=\"bob\"")}) {
    EXPECT_EQ(run(policy, {{"Authorization", value}}).outcome, AuthOutcome::kMissing) << value;
  }
  EXPECT_EQ(run(policy, {}).outcome, AuthOutcome::kMissing);
}

TEST(AuthenticatorBasic, SchemeIsCaseInsensitiveAndSpacesTolerated) {
  const auto policy = basicPolicy();
  const std::string creds = test_certs::base64("bob:s3cret");
  for (const std::string& value :
       {"basic " + creds, "BASIC " + creds, "bAsIc " + creds, "Basic   " + creds,
        "  Basic " + creds + "  ", "Basic " + creds.substr(0, creds.find('='))}) {
    const auto r = run(policy, {{"Authorization", value}});
    EXPECT_EQ(r.outcome, AuthOutcome::kOk) << value;
    EXPECT_EQ(r.consumer, named("bob")) << value;
  }
}

// ---------------------------------------------------------------------------------------------
// allowConsumers / allowGroups, anyOf.

TEST(AuthenticatorAllow, Consumers) {
  auto policy = apiKeyPolicy();
  policy.allow_consumers = {"alice"};
  auto r = run(policy, {{"X-API-Key", "alice-key-1"}});
  EXPECT_EQ(r.outcome, AuthOutcome::kOk);
  r = run(policy, {{"X-API-Key", "bob-key"}});
  EXPECT_EQ(r.outcome, AuthOutcome::kForbidden);
  EXPECT_EQ(r.consumer, named("bob"));  // known, just not allowed
  // A restriction does not turn a bad key into a forbidden one.
  EXPECT_EQ(run(policy, {{"X-API-Key", "nope"}}).outcome, AuthOutcome::kInvalid);
  EXPECT_EQ(run(policy, {}).outcome, AuthOutcome::kMissing);
}

TEST(AuthenticatorAllow, Groups) {
  auto policy = basicPolicy();
  policy.allow_groups = {"admins"};
  auto r = run(policy, {{"Authorization", basicHeader("carol:hunter2")}});
  EXPECT_EQ(r.outcome, AuthOutcome::kOk);  // carol: dev, admins
  r = run(policy, {{"Authorization", basicHeader("bob:s3cret")}});
  EXPECT_EQ(r.outcome, AuthOutcome::kForbidden);  // bob: staff
  EXPECT_EQ(r.consumer, named("bob"));
  // Names and groups are separate lists: a group named like a consumer does not admit it.
  policy.allow_groups = {"bob"};
  EXPECT_EQ(run(policy, {{"Authorization", basicHeader("bob:s3cret")}}).outcome,
            AuthOutcome::kForbidden);
}

TEST(AuthenticatorAllow, EitherListAdmits) {
  auto policy = apiKeyPolicy();
  policy.allow_consumers = {"alice"};
  policy.allow_groups = {"staff"};
  EXPECT_EQ(run(policy, {{"X-API-Key", "alice-key-1"}}).outcome, AuthOutcome::kOk);
  EXPECT_EQ(run(policy, {{"X-API-Key", "bob-key"}}).outcome, AuthOutcome::kOk);
  policy.allow_consumers = {"nobody"};
  policy.allow_groups = {"nothing"};
  EXPECT_EQ(run(policy, {{"X-API-Key", "alice-key-1"}}).outcome, AuthOutcome::kForbidden);
  EXPECT_EQ(run(policy, {{"X-API-Key", "bob-key"}}).outcome, AuthOutcome::kForbidden);
}

TEST(AuthenticatorAnyOf, ApiKeyOrBasic) {
  auto policy = basicPolicy();
  policy.api_key = true;
  // Either method alone.
  EXPECT_EQ(run(policy, {{"X-API-Key", "alice-key-1"}}).consumer, named("alice"));
  EXPECT_EQ(run(policy, {{"Authorization", basicHeader("bob:s3cret")}}).consumer, named("bob"));
  // A wrong key does not stop good Basic credentials, and the reverse.
  auto r = run(policy, {{"X-API-Key", "nope"}, {"Authorization", basicHeader("carol:hunter2")}});
  EXPECT_EQ(r.outcome, AuthOutcome::kOk);
  EXPECT_EQ(r.consumer, named("carol"));
  r = run(policy, {{"X-API-Key", "alice-key-1"}, {"Authorization", basicHeader("bob:wrong")}});
  EXPECT_EQ(r.outcome, AuthOutcome::kOk);
  EXPECT_EQ(r.consumer, named("alice"));
  // Both wrong, or one wrong and the other absent: invalid. Neither: missing.
  EXPECT_EQ(run(policy, {{"X-API-Key", "nope"}, {"Authorization", basicHeader("bob:x")}}).outcome,
            AuthOutcome::kInvalid);
  EXPECT_EQ(run(policy, {{"X-API-Key", "nope"}}).outcome, AuthOutcome::kInvalid);
  EXPECT_EQ(run(policy, {{"Authorization", basicHeader("bob:x")}}).outcome,
            AuthOutcome::kInvalid);
  EXPECT_EQ(run(policy, {}).outcome, AuthOutcome::kMissing);
}

TEST(AuthenticatorAnyOf, AllowListAppliesToWhicheverMethodSucceeded) {
  auto policy = basicPolicy();
  policy.api_key = true;
  policy.allow_consumers = {"carol"};
  // The API key names alice (not allowed): Basic is not tried once a consumer is known.
  const auto r =
      run(policy, {{"X-API-Key", "alice-key-1"}, {"Authorization", basicHeader("carol:hunter2")}});
  EXPECT_EQ(r.outcome, AuthOutcome::kForbidden);
  EXPECT_EQ(r.consumer, named("alice"));
  EXPECT_EQ(run(policy, {{"Authorization", basicHeader("carol:hunter2")}}).outcome,
            AuthOutcome::kOk);
}

// ---------------------------------------------------------------------------------------------
// JWT through authenticate.

struct JwtFixture {
  test_jwt::Key rsa = test_jwt::rsaKey();
  test_jwt::Key other = test_jwt::ecKey("P-256");
  std::string secret = test_jwt::randomBytes(32);
  JwtRuntime runtime;

  JwtFixture() {
    config::JwtSettings s;
    s.jwks_json = test_jwt::jwks({test_jwt::publicJwk(rsa.get(), "rsa-1")});
    s.hmac_secret = secret;
    std::string error;
    runtime.static_keys = JwtKeySet::parse(s.jwks_json, &error);
    if (!runtime.static_keys) throw std::runtime_error(error);
    runtime.hmac_keys = JwtKeySet::hmac(secret);
    runtime.algorithms = effectiveAlgorithms(s);
  }

  std::string token(const json& claims, const std::string& alg = "RS256") const {
    if (alg.starts_with("HS")) {
      return test_jwt::sign(alg, test_jwt::Signer::hmac(secret), claims);
    }
    return test_jwt::sign(alg, test_jwt::Signer::with(rsa), claims, "rsa-1");
  }
};

const JwtFixture& jwtFixture() {
  static const auto* f = new JwtFixture();
  return *f;
}

config::AuthPolicy jwtPolicy() {
  config::AuthPolicy p;
  p.jwt = true;
  p.consumer_namespace = "shop";
  return p;
}

AuthResult runJwt(const config::AuthPolicy& policy, const std::string& authorization,
                  int64_t now = kNow, std::string_view query = "") {
  return run(policy, {{"Authorization", authorization}}, query, &jwtFixture().runtime, now);
}

TEST(AuthenticatorJwt, ValidTokenNamesItsConsumer) {
  const auto& f = jwtFixture();
  const json claims = {{"sub", "user-42"}, {"exp", kNow + 60}, {"scope", "read"}};
  for (const char* alg : {"RS256", "PS256", "HS256", "HS512"}) {
    const auto r = runJwt(jwtPolicy(), "Bearer " + f.token(claims, alg));
    EXPECT_EQ(r.outcome, AuthOutcome::kOk) << alg;
    EXPECT_EQ(r.consumer, named("dave")) << alg;
    EXPECT_EQ(r.jwt_claims, claims) << alg;
    EXPECT_FALSE(r.bad_token) << alg;
  }
}

TEST(AuthenticatorJwt, SchemeIsCaseInsensitiveAndSpacesTolerated) {
  const std::string token = jwtFixture().token({{"sub", "user-42"}});
  for (const std::string& value : {"bearer " + token, "BEARER " + token, "Bearer    " + token,
                                  " Bearer " + token + " "}) {
    const auto r = runJwt(jwtPolicy(), value);
    EXPECT_EQ(r.outcome, AuthOutcome::kOk) << value;
    EXPECT_EQ(r.consumer, named("dave")) << value;
  }
}

TEST(AuthenticatorJwt, ConsumerClaim) {
  const auto& f = jwtFixture();
  auto policy = jwtPolicy();
  policy.jwt_settings.consumer_claim = "email";
  auto r = runJwt(policy, "Bearer " + f.token({{"sub", "someone"}, {"email", "user-42"}}));
  EXPECT_EQ(r.outcome, AuthOutcome::kOk);
  EXPECT_EQ(r.consumer, named("dave"));
  // The default claim is no longer looked at.
  r = runJwt(policy, "Bearer " + f.token({{"sub", "user-42"}}));
  EXPECT_EQ(r.outcome, AuthOutcome::kOk);
  EXPECT_EQ(r.consumer, nullptr);
  // A claim that is not a string names no consumer.
  for (const json& value : {json(42), json::array({"user-42"}), json(nullptr), json(true)}) {
    r = runJwt(policy, "Bearer " + f.token({{"email", value}}));
    EXPECT_EQ(r.outcome, AuthOutcome::kOk) << value.dump();
    EXPECT_EQ(r.consumer, nullptr) << value.dump();
  }
}

TEST(AuthenticatorJwt, ConsumersOfTheRouteNamespaceOnly) {
  auto policy = jwtPolicy();
  policy.consumer_namespace = "other";
  EXPECT_EQ(runJwt(policy, "Bearer " + jwtFixture().token({{"sub", "user-42"}})).consumer,
            named("eve"));
  policy.consumer_namespace = "nowhere";
  const auto r = runJwt(policy, "Bearer " + jwtFixture().token({{"sub", "user-42"}}));
  EXPECT_EQ(r.outcome, AuthOutcome::kOk);  // any valid token, when no list restricts the route
  EXPECT_EQ(r.consumer, nullptr);
}

TEST(AuthenticatorJwt, RestrictedRouteNeedsAnAllowedConsumer) {
  const auto& f = jwtFixture();
  auto policy = jwtPolicy();
  policy.allow_consumers = {"dave"};
  EXPECT_EQ(runJwt(policy, "Bearer " + f.token({{"sub", "user-42"}})).outcome, AuthOutcome::kOk);
  // A valid token of no consumer.
  auto r = runJwt(policy, "Bearer " + f.token({{"sub", "stranger"}}));
  EXPECT_EQ(r.outcome, AuthOutcome::kForbidden);
  EXPECT_EQ(r.consumer, nullptr);
  EXPECT_FALSE(r.bad_token);
  r = runJwt(policy, "Bearer " + f.token({{"scope", "all"}}));
  EXPECT_EQ(r.outcome, AuthOutcome::kForbidden);
  // A consumer, not allowed.
  policy.allow_consumers = {"alice"};
  r = runJwt(policy, "Bearer " + f.token({{"sub", "user-42"}}));
  EXPECT_EQ(r.outcome, AuthOutcome::kForbidden);
  EXPECT_EQ(r.consumer, named("dave"));
  // By group.
  policy.allow_consumers.clear();
  policy.allow_groups = {"admins"};
  EXPECT_EQ(runJwt(policy, "Bearer " + f.token({{"sub", "user-42"}})).outcome,
            AuthOutcome::kOk);
  EXPECT_EQ(runJwt(policy, "Bearer " + f.token({{"sub", "stranger"}})).outcome,
            AuthOutcome::kForbidden);
}

TEST(AuthenticatorJwt, BadTokensAreInvalidWithBadTokenSet) {
  const auto& f = jwtFixture();
  const auto other_key =
      test_jwt::sign("ES256", test_jwt::Signer::with(f.other, 32), {{"sub", "user-42"}});
  const std::string good = f.token({{"sub", "user-42"}});
  // A character well inside the signature (the last one may carry only padding bits).
  std::string tampered = good;
  char& c = tampered[tampered.size() - 20];
  c = c == 'A' ? 'B' : 'A';
  const std::string none = test_jwt::b64url(json{{"alg", "none"}}.dump()) + "." +
                           test_jwt::b64url(json{{"sub", "user-42"}}.dump()) + ".";
  const std::vector<std::string> tokens = {
      f.token({{"sub", "user-42"}, {"exp", kNow - 3600}}),  // expired
      f.token({{"sub", "user-42"}, {"nbf", kNow + 3600}}),  // not yet valid
      other_key,                                            // no such key
      tampered,
      none,
      "not-a-token",
      good + ".x",
      test_jwt::sign("HS256", test_jwt::Signer::hmac("guess"), {{"sub", "user-42"}}),
  };
  for (const auto& token : tokens) {
    const auto r = runJwt(jwtPolicy(), "Bearer " + token);
    EXPECT_EQ(r.outcome, AuthOutcome::kInvalid) << token;
    EXPECT_TRUE(r.bad_token) << token;
    EXPECT_EQ(r.consumer, nullptr) << token;
    EXPECT_TRUE(r.jwt_claims.is_null()) << token;
  }
}

TEST(AuthenticatorJwt, TheInjectedClockDecides) {
  const std::string token = jwtFixture().token({{"sub", "user-42"}, {"exp", kNow + 100}});
  EXPECT_EQ(runJwt(jwtPolicy(), "Bearer " + token, kNow).outcome, AuthOutcome::kOk);
  EXPECT_EQ(runJwt(jwtPolicy(), "Bearer " + token, kNow + 129).outcome, AuthOutcome::kOk);
  EXPECT_EQ(runJwt(jwtPolicy(), "Bearer " + token, kNow + 130).outcome, AuthOutcome::kInvalid);
}

TEST(AuthenticatorJwt, RouteSettingsApply) {
  const auto& f = jwtFixture();
  auto policy = jwtPolicy();
  policy.jwt_settings.issuer = "https://issuer.example";
  policy.jwt_settings.audiences = {"shop-api"};
  EXPECT_EQ(runJwt(policy, "Bearer " + f.token({{"sub", "user-42"},
                                                {"iss", "https://issuer.example"},
                                                {"aud", {"shop-api", "x"}}}))
                .outcome,
            AuthOutcome::kOk);
  EXPECT_EQ(runJwt(policy, "Bearer " + f.token({{"sub", "user-42"}, {"aud", "shop-api"}})).outcome,
            AuthOutcome::kInvalid);
  EXPECT_EQ(runJwt(policy, "Bearer " + f.token({{"sub", "user-42"},
                                                {"iss", "https://issuer.example"}}))
                .outcome,
            AuthOutcome::kInvalid);
}

TEST(AuthenticatorJwt, MissingOrEmptyBearer) {
  auto r = run(jwtPolicy(), {}, "", &jwtFixture().runtime);
  EXPECT_EQ(r.outcome, AuthOutcome::kMissing);
  EXPECT_FALSE(r.bad_token);
  for (const char* value : {"Bearer", "Bearer ", "Bearer    ", "Basic Ym9iOnMzY3JldA==",
                            "Token abc", "Bearerx abc"}) {
    r = runJwt(jwtPolicy(), value);
    EXPECT_EQ(r.outcome, AuthOutcome::kMissing) << value;
    EXPECT_FALSE(r.bad_token) << value;
  }
  // A token in the query is not looked for.
  const std::string token = jwtFixture().token({{"sub", "user-42"}});
  r = run(jwtPolicy(), {}, "access_token=" + token, &jwtFixture().runtime);
  EXPECT_EQ(r.outcome, AuthOutcome::kMissing);
}

TEST(AuthenticatorJwt, AnyOfWithApiKey) {
  const auto& f = jwtFixture();
  auto policy = jwtPolicy();
  policy.api_key = true;
  // A bad token does not stop a good API key.
  auto r = run(policy, {{"Authorization", "Bearer junk"}, {"X-API-Key", "alice-key-1"}}, "",
               &f.runtime);
  EXPECT_EQ(r.outcome, AuthOutcome::kOk);
  EXPECT_EQ(r.consumer, named("alice"));
  // A good token wins over a key of another consumer.
  r = run(policy,
          {{"Authorization", "Bearer " + f.token({{"sub", "user-42"}})},
           {"X-API-Key", "alice-key-1"}},
          "", &f.runtime);
  EXPECT_EQ(r.outcome, AuthOutcome::kOk);
  EXPECT_EQ(r.consumer, named("dave"));
  // Both bad: invalid, and the challenge says the token was bad.
  r = run(policy, {{"Authorization", "Bearer junk"}, {"X-API-Key", "nope"}}, "", &f.runtime);
  EXPECT_EQ(r.outcome, AuthOutcome::kInvalid);
  EXPECT_TRUE(r.bad_token);
  // Only a bad key.
  r = run(policy, {{"X-API-Key", "nope"}}, "", &f.runtime);
  EXPECT_EQ(r.outcome, AuthOutcome::kInvalid);
  EXPECT_FALSE(r.bad_token);
}

TEST(AuthenticatorJwt, AnyOfWithBasic) {
  const auto& f = jwtFixture();
  auto policy = jwtPolicy();
  policy.basic = true;
  auto r = run(policy, {{"Authorization", basicHeader("bob:s3cret")}}, "", &f.runtime);
  EXPECT_EQ(r.outcome, AuthOutcome::kOk);
  EXPECT_EQ(r.consumer, named("bob"));
  EXPECT_FALSE(r.bad_token);
  EXPECT_TRUE(r.jwt_claims.is_null());
  r = run(policy, {{"Authorization", "Bearer " + f.token({{"sub", "user-42"}})}}, "",
          &f.runtime);
  EXPECT_EQ(r.consumer, named("dave"));
  r = run(policy, {{"Authorization", "Bearer junk"}}, "", &f.runtime);
  EXPECT_EQ(r.outcome, AuthOutcome::kInvalid);
  EXPECT_TRUE(r.bad_token);
}

TEST(AuthenticatorJwt, JwtPolicyWithoutRuntimeAuthenticatesNothing) {
  const auto r = run(jwtPolicy(), {{"Authorization", "Bearer " + jwtFixture().token({})}});
  EXPECT_NE(r.outcome, AuthOutcome::kOk);
}

// ---------------------------------------------------------------------------------------------
// challenges().

TEST(AuthenticatorChallenges, OnePerMethodInOrder) {
  config::AuthPolicy p;
  EXPECT_TRUE(challenges(p, false).empty());
  p.jwt = true;
  EXPECT_EQ(challenges(p, false), (std::vector<std::string>{"Bearer realm=\"atrium\""}));
  EXPECT_EQ(challenges(p, true),
            (std::vector<std::string>{"Bearer realm=\"atrium\", error=\"invalid_token\""}));
  p.jwt = false;
  p.basic = true;
  EXPECT_EQ(challenges(p, false), (std::vector<std::string>{"Basic realm=\"atrium\""}));
  p.basic_realm = "shop";
  EXPECT_EQ(challenges(p, true), (std::vector<std::string>{"Basic realm=\"shop\""}));
  p.basic = false;
  p.api_key = true;
  EXPECT_EQ(challenges(p, false), (std::vector<std::string>{"APIKey header=\"X-API-Key\""}));
  p.api_key_header = "X-Token";
  EXPECT_EQ(challenges(p, false), (std::vector<std::string>{"APIKey header=\"X-Token\""}));
  p.jwt = p.basic = true;
  EXPECT_EQ(challenges(p, true),
            (std::vector<std::string>{"Bearer realm=\"atrium\", error=\"invalid_token\"",
                                      "Basic realm=\"shop\"", "APIKey header=\"X-Token\""}));
}

}  // namespace
}  // namespace atrium::proxy::filters
