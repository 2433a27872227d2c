// The checks a kubernetes.io/tls Secret's PEM goes through before its certificate is served:
// every certificate of tls.crt parses, tls.key parses and belongs to the first (leaf)
// certificate; CA bundles; the content digest.
#include "controller/translator/certificates.h"

#include <gtest/gtest.h>
#include <openssl/err.h>

#include "tests/unit/support/test_certs.h"

namespace atrium::controller::translator {
namespace {

using test_certs::CertSpec;
using test_certs::KeyType;
using test_certs::makeCert;
using test_certs::TestCert;

// Root CA → intermediate CA → leaf, made once for the whole file (RSA keys are slow to make).
struct Pki {
  TestCert root = makeCert({"Test Root CA", {}, KeyType::kEcdsa, true, nullptr});
  TestCert intermediate = makeCert({"Test Intermediate CA", {}, KeyType::kEcdsa, true, &root});
  TestCert rsa_leaf =
      makeCert({"www.example.com", {"www.example.com"}, KeyType::kRsa, false, &intermediate});
  TestCert ecdsa_leaf = makeCert({"api.example.com",
                                  {"api.example.com", "*.api.example.com"},
                                  KeyType::kEcdsa,
                                  false,
                                  &intermediate});
  std::string other_key_pem = test_certs::keyPem(test_certs::makeKey(KeyType::kEcdsa).get());
};

const Pki& pki() {
  static const Pki instance;
  return instance;
}

// A PEM block with the right armour whose content is not a certificate.
constexpr const char* kCorruptCertificate =
    "-----BEGIN CERTIFICATE-----\n"
    "TUlJQm5vdCBhIGNlcnRpZmljYXRlIGF0IGFsbCwganVzdCBzb21lIGJ5dGVzIGhlcmU=\n"
    "-----END CERTIFICATE-----\n";

TEST(Certificates, RsaAndEcdsaLeavesWithIntermediateChainAreGood) {
  const auto& p = pki();
  for (const TestCert* leaf : {&p.rsa_leaf, &p.ecdsa_leaf}) {
    EXPECT_EQ(checkCertificatePair(leaf->cert_pem + p.intermediate.cert_pem, leaf->key_pem), "");
  }
}

TEST(Certificates, SelfSignedLeafAloneIsGood) {
  const auto cert = test_certs::selfSigned("solo.example.com");
  EXPECT_EQ(checkCertificatePair(cert.cert_pem, cert.key_pem), "");
}

TEST(Certificates, KeyOfAnotherCertificateIsRefused) {
  const auto& p = pki();
  EXPECT_EQ(checkCertificatePair(p.ecdsa_leaf.cert_pem, p.other_key_pem),
            "tls.key does not match the certificate in tls.crt");
  // An RSA certificate with an ECDSA key: a different algorithm is a mismatch too.
  EXPECT_EQ(checkCertificatePair(p.rsa_leaf.cert_pem, p.ecdsa_leaf.key_pem),
            "tls.key does not match the certificate in tls.crt");
}

TEST(Certificates, KeyMustMatchTheLeafNotAnotherCertificateOfTheChain) {
  const auto& p = pki();
  // The intermediate's key matches a certificate of tls.crt, but not the first one.
  EXPECT_EQ(
      checkCertificatePair(p.ecdsa_leaf.cert_pem + p.intermediate.cert_pem, p.intermediate.key_pem),
      "tls.key does not match the certificate in tls.crt");
  // Chain written in the wrong order: the leaf is not first.
  EXPECT_EQ(
      checkCertificatePair(p.intermediate.cert_pem + p.ecdsa_leaf.cert_pem, p.ecdsa_leaf.key_pem),
      "tls.key does not match the certificate in tls.crt");
}

TEST(Certificates, GarbageCertificateIsRefused) {
  const auto& p = pki();
  EXPECT_EQ(checkCertificatePair("not a certificate", p.ecdsa_leaf.key_pem),
            "tls.crt: no PEM certificate found");
  // A lone corrupt block is reported as "no certificate found": refused either way.
  EXPECT_EQ(checkCertificatePair(kCorruptCertificate, p.ecdsa_leaf.key_pem).rfind("tls.crt: ", 0),
            0u);
}

TEST(Certificates, CorruptCertificateAfterTheLeafIsRefused) {
  const auto& p = pki();
  EXPECT_EQ(checkCertificatePair(p.ecdsa_leaf.cert_pem + kCorruptCertificate, p.ecdsa_leaf.key_pem),
            "tls.crt: a certificate does not parse");
}

TEST(Certificates, GarbageKeyIsRefused) {
  const auto& p = pki();
  EXPECT_EQ(checkCertificatePair(p.ecdsa_leaf.cert_pem, "not a key"),
            "tls.key: no usable PEM private key");
  // A certificate where the key should be.
  EXPECT_EQ(checkCertificatePair(p.ecdsa_leaf.cert_pem, p.ecdsa_leaf.cert_pem),
            "tls.key: no usable PEM private key");
}

TEST(Certificates, SwappedCertificateAndKeyAreRefused) {
  const auto& p = pki();
  EXPECT_EQ(checkCertificatePair(p.ecdsa_leaf.key_pem, p.ecdsa_leaf.cert_pem),
            "tls.crt: no PEM certificate found");
}

TEST(Certificates, EmptyMaterialIsRefused) {
  const auto& p = pki();
  EXPECT_EQ(checkCertificatePair("", ""), "tls.crt: no PEM certificate found");
  EXPECT_EQ(checkCertificatePair(p.ecdsa_leaf.cert_pem, ""), "tls.key: no usable PEM private key");
}

TEST(Certificates, FailedChecksLeaveNoOpenSslErrorBehind) {
  // The error queue is per thread: a leftover would be blamed on the next OpenSSL call there.
  const auto& p = pki();
  ERR_clear_error();
  checkCertificatePair(kCorruptCertificate, p.ecdsa_leaf.key_pem);
  EXPECT_EQ(ERR_peek_error(), 0u);
  checkCertificatePair(p.ecdsa_leaf.cert_pem, "not a key");
  EXPECT_EQ(ERR_peek_error(), 0u);
  checkCertificatePair(p.ecdsa_leaf.cert_pem, p.other_key_pem);
  EXPECT_EQ(ERR_peek_error(), 0u);
  checkCaBundle("garbage");
  EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST(CertificateCaBundle, OneOrMoreCertificatesAreGood) {
  const auto& p = pki();
  EXPECT_EQ(checkCaBundle(p.root.cert_pem), "");
  EXPECT_EQ(checkCaBundle(p.root.cert_pem + p.intermediate.cert_pem), "");
  // Comments between the blocks, as bundles often have, are fine.
  EXPECT_EQ(checkCaBundle("# Test Root CA\n" + p.root.cert_pem + "\n# Intermediate\n" +
                          p.intermediate.cert_pem),
            "");
}

TEST(CertificateCaBundle, NoCertificateOrACorruptOneIsRefused) {
  const auto& p = pki();
  EXPECT_EQ(checkCaBundle(""), "no PEM certificate found");
  EXPECT_EQ(checkCaBundle("garbage"), "no PEM certificate found");
  EXPECT_EQ(checkCaBundle(p.root.key_pem), "no PEM certificate found");
  EXPECT_EQ(checkCaBundle(p.root.cert_pem + kCorruptCertificate), "a certificate does not parse");
}

TEST(CertificateSha256, KnownVectors) {
  EXPECT_EQ(sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // Binary-safe: the whole string, not up to the first NUL.
  EXPECT_EQ(sha256Hex(std::string("a\0b", 3)),
            "59b271ae1bbcb1d31d41929817f4b16fb439eb4f31520b5ad1d5ce98920a7138");
}

}  // namespace
}  // namespace atrium::controller::translator
