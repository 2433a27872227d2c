// Which TLS context a connection's SNI name gets: exact names first, then one-label wildcards,
// then the default; contexts shared between configurations while their certificate is unchanged
// (so a reload costs nothing and open connections keep theirs) and per client-verification
// setting (so a session made for one host cannot skip another host's verification).
#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>
#include <vector>

#include "proxy/tls/tls_server.h"
#include "tests/unit/support/test_certs.h"

namespace atrium::proxy::tls {
namespace {

using test_certs::TestCert;

struct Certs {
  TestCert exact = test_certs::selfSigned("a.example.com");
  TestCert wildcard = test_certs::selfSigned("*.example.com");
  TestCert fallback = test_certs::selfSigned("default.example.net");
  TestCert rotated = test_certs::selfSigned("a.example.com");
  TestCert ca = test_certs::makeCert({"Client CA", {}, test_certs::KeyType::kEcdsa, true, nullptr});
};

const Certs& certs() {
  static const Certs instance;
  return instance;
}

// As the controller makes it: the digest identifies the content.
config::TlsCertificate certificate(const std::string& name, const TestCert& cert) {
  return {name, cert.cert_pem, cert.key_pem, test_certs::sha256Hex(cert.cert_pem + cert.key_pem)};
}

// a.example.com and *.example.com with their own certificates, and a default certificate.
config::ConfigSnapshot snapshot() {
  const auto& c = certs();
  config::ConfigSnapshot s;
  s.certificates = {certificate("shop/a", c.exact), certificate("shop/default", c.fallback),
                    certificate("shop/wildcard", c.wildcard)};
  s.tls_hosts = {{"*.example.com", "shop/wildcard", std::nullopt},
                 {"a.example.com", "shop/a", std::nullopt}};
  s.default_certificate = "shop/default";
  return s;
}

// The common name of the certificate an entry switches the connection to ("" when it stays on
// the base context).
std::string commonName(const HostTable::Entry& entry) {
  if (!entry.context) return "";
  X509* cert = SSL_CTX_get0_certificate(entry.context.get());
  if (!cert) return "(no certificate)";
  char name[256] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, name, sizeof name);
  return name;
}

class HostTables : public ::testing::Test {
 protected:
  std::shared_ptr<const HostTable> build(const config::ConfigSnapshot& s) {
    errors_.clear();
    auto table = server_.build(s, &errors_);
    EXPECT_TRUE(errors_.empty()) << errors_.front();
    return table;
  }

  TlsServer server_;
  std::vector<std::string> errors_;
};

TEST_F(HostTables, ExactNameBeforeWildcard) {
  auto table = build(snapshot());
  EXPECT_EQ(commonName(table->find("a.example.com")), "a.example.com");
  EXPECT_EQ(commonName(table->find("b.example.com")), "*.example.com");
  EXPECT_EQ(commonName(table->find("www.example.com")), "*.example.com");
}

TEST_F(HostTables, WildcardCoversExactlyOneLabel) {
  auto table = build(snapshot());
  // Not the bare domain, not two labels (not even below an exact name).
  EXPECT_EQ(commonName(table->find("example.com")), "default.example.net");
  EXPECT_EQ(commonName(table->find("x.b.example.com")), "default.example.net");
  EXPECT_EQ(commonName(table->find("x.a.example.com")), "default.example.net");
  // Not a suffix match on the text either.
  EXPECT_EQ(commonName(table->find("badexample.com")), "default.example.net");
  EXPECT_EQ(commonName(table->find(".example.com")), "default.example.net");
}

TEST_F(HostTables, NamesAreCaseInsensitive) {
  auto table = build(snapshot());
  EXPECT_EQ(commonName(table->find("A.Example.COM")), "a.example.com");
  EXPECT_EQ(commonName(table->find("WWW.EXAMPLE.COM")), "*.example.com");
}

TEST_F(HostTables, UnknownOrEmptyNameGetsTheDefault) {
  auto table = build(snapshot());
  EXPECT_EQ(commonName(table->find("")), "default.example.net");
  EXPECT_EQ(commonName(table->find("unknown.org")), "default.example.net");
  EXPECT_EQ(table->find("unknown.org").context, table->find("").context);
  EXPECT_FALSE(table->find("").client_ca);
  EXPECT_FALSE(table->find("").refuse);
}

TEST_F(HostTables, WithoutDefaultCertificateUnknownNamesStayOnTheSelfSignedBase) {
  auto s = snapshot();
  s.default_certificate.clear();
  auto table = build(s);
  EXPECT_FALSE(table->find("unknown.org").context);
  EXPECT_FALSE(table->find("").context);
  EXPECT_FALSE(table->find("").refuse);
  EXPECT_EQ(commonName(table->find("a.example.com")), "a.example.com");
  // The base context presents the self-signed certificate made at start.
  X509* base = SSL_CTX_get0_certificate(server_.baseContext().native_handle());
  ASSERT_TRUE(base);
  char name[256] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(base), NID_commonName, name, sizeof name);
  EXPECT_STREQ(name, "atrium-default");
}

TEST_F(HostTables, HostWithoutCertificateOfItsOwnGetsTheDefault) {
  auto s = snapshot();
  s.tls_hosts.push_back({"c.example.org", "", std::nullopt});
  auto table = build(s);
  EXPECT_EQ(commonName(table->find("c.example.org")), "default.example.net");
}

TEST_F(HostTables, OneContextPerCertificate) {
  auto s = snapshot();
  s.tls_hosts.push_back({"other.example.org", "shop/a", std::nullopt});
  auto table = build(s);
  EXPECT_EQ(table->find("other.example.org").context, table->find("a.example.com").context);
  EXPECT_NE(table->find("a.example.com").context, table->find("b.example.com").context);
}

TEST_F(HostTables, ContextsAreReusedWhileTheCertificateIsUnchanged) {
  auto first = build(snapshot());
  auto second = build(snapshot());
  ASSERT_NE(first, second);
  for (const char* host : {"a.example.com", "b.example.com", ""}) {
    SCOPED_TRACE(host);
    ASSERT_TRUE(first->find(host).context);
    EXPECT_EQ(second->find(host).context.get(), first->find(host).context.get());
  }
}

TEST_F(HostTables, ChangedCertificateGetsANewContextAndOthersKeepTheirs) {
  const auto& c = certs();
  auto first = build(snapshot());
  auto s = snapshot();
  s.certificates[0] = certificate("shop/a", c.rotated);  // same name, new content
  auto second = build(s);
  EXPECT_NE(second->find("a.example.com").context.get(),
            first->find("a.example.com").context.get());
  X509* served = SSL_CTX_get0_certificate(second->find("a.example.com").context.get());
  ASSERT_TRUE(served);
  EXPECT_EQ(X509_cmp(served, c.rotated.cert.get()), 0);
  // The connections of the first table keep the old certificate.
  EXPECT_EQ(X509_cmp(SSL_CTX_get0_certificate(first->find("a.example.com").context.get()),
                     c.exact.cert.get()),
            0);
  EXPECT_EQ(second->find("b.example.com").context.get(),
            first->find("b.example.com").context.get());
}

TEST_F(HostTables, ClientValidationGetsItsOwnContextAndStore) {
  const auto& c = certs();
  auto s = snapshot();
  s.tls_hosts.push_back({"mtls.example.org", "shop/a",
                         config::ClientValidation{"shop/ca/ca.crt", c.ca.cert_pem, false}});
  s.tls_hosts.push_back({"maybe.example.org", "shop/a",
                         config::ClientValidation{"shop/ca/ca.crt", c.ca.cert_pem, true}});
  auto table = build(s);
  const auto& plain = table->find("a.example.com");
  const auto& mtls = table->find("mtls.example.org");
  const auto& maybe = table->find("maybe.example.org");
  EXPECT_FALSE(plain.client_ca);
  ASSERT_TRUE(mtls.client_ca);
  EXPECT_FALSE(mtls.client_optional);
  EXPECT_FALSE(mtls.refuse);
  ASSERT_TRUE(maybe.client_ca);
  EXPECT_TRUE(maybe.client_optional);
  // Same certificate, but a session of the plain host must not resume on the verified one.
  EXPECT_EQ(commonName(mtls), "a.example.com");
  EXPECT_NE(mtls.context, plain.context);
  EXPECT_NE(mtls.context, maybe.context);
}

TEST_F(HostTables, UnusableClientCaRefusesEveryClient) {
  auto s = snapshot();
  s.tls_hosts.push_back({"empty.example.org", "shop/a", config::ClientValidation{"x", "", true}});
  s.tls_hosts.push_back(
      {"garbage.example.org", "shop/a", config::ClientValidation{"y", "garbage", true}});
  auto table = build(s);
  EXPECT_TRUE(table->find("empty.example.org").refuse);
  EXPECT_TRUE(table->find("garbage.example.org").refuse);
  EXPECT_FALSE(table->find("a.example.com").refuse);
}

TEST_F(HostTables, CertificateThatDoesNotLoadIsReported) {
  const auto& c = certs();
  auto s = snapshot();
  // The controller refuses this pair; the proxy must still not trust the snapshot blindly.
  s.certificates.push_back({"shop/broken", c.wildcard.cert_pem, c.exact.key_pem, "broken"});
  s.tls_hosts.push_back({"broken.example.org", "shop/broken", std::nullopt});
  std::vector<std::string> errors;
  auto table = server_.build(s, &errors);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].rfind("TLS host broken.example.org: ", 0), 0u) << errors[0];
  // Its host falls back (no context of its own); the others are unaffected.
  EXPECT_FALSE(table->find("broken.example.org").context);
  EXPECT_EQ(commonName(table->find("a.example.com")), "a.example.com");
}

}  // namespace
}  // namespace atrium::proxy::tls
