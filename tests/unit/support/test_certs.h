#pragma once
// Certificates for the TLS unit tests, made in-process with the OpenSSL 3 API at run time (never
// checked in, so none of them can expire in the repository): ECDSA or RSA keys, certificates
// with subjectAltName, CAs signing intermediates and leaves. Header-only because the unit test
// binary compiles only tests/unit/**/*_test.cc.
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace atrium::test_certs {

enum class KeyType { kEcdsa, kRsa };

struct TestCert {
  std::string cert_pem;  // this certificate only (append an issuer's for a chain)
  std::string key_pem;   // PKCS#8 "-----BEGIN PRIVATE KEY-----"
  std::shared_ptr<X509> cert;
  std::shared_ptr<EVP_PKEY> key;
};

struct CertSpec {
  std::string common_name;
  std::vector<std::string> dns_names;  // subjectAltName DNS entries
  KeyType key_type = KeyType::kEcdsa;
  bool is_ca = false;
  const TestCert* issuer = nullptr;  // null: self-signed
};

inline std::string bioContents(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(n));
}

inline std::shared_ptr<EVP_PKEY> makeKey(KeyType type) {
  EVP_PKEY* key = type == KeyType::kEcdsa ? EVP_EC_gen("P-256") : EVP_RSA_gen(2048);
  if (!key) throw std::runtime_error("test key generation failed");
  return std::shared_ptr<EVP_PKEY>(key, EVP_PKEY_free);
}

inline std::string keyPem(EVP_PKEY* key) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  return bioContents(bio.get());
}

inline std::string certPem(X509* cert) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_X509(bio.get(), cert);
  return bioContents(bio.get());
}

inline void addExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (!ext) throw std::runtime_error("test certificate extension " + value);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

inline TestCert makeCert(const CertSpec& spec) {
  TestCert out;
  out.key = makeKey(spec.key_type);
  out.cert = std::shared_ptr<X509>(X509_new(), X509_free);
  X509* cert = out.cert.get();
  X509_set_version(cert, 2);
  uint64_t serial = 0;
  RAND_bytes(reinterpret_cast<unsigned char*>(&serial), sizeof serial);
  ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert), serial >> 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), 24 * 3600);
  X509_set_pubkey(cert, out.key.get());
  X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(spec.common_name.c_str()), -1,
                             -1, 0);
  X509* issuer = spec.issuer ? spec.issuer->cert.get() : cert;
  X509_set_issuer_name(cert, X509_get_subject_name(issuer));
  if (spec.is_ca) {
    addExtension(cert, issuer, NID_basic_constraints, "critical,CA:TRUE");
    addExtension(cert, issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    addExtension(cert, issuer, NID_basic_constraints, "CA:FALSE");
  }
  if (!spec.dns_names.empty()) {
    std::string san;
    for (const auto& name : spec.dns_names) san += (san.empty() ? "DNS:" : ",DNS:") + name;
    addExtension(cert, issuer, NID_subject_alt_name, san);
  }
  EVP_PKEY* signer = spec.issuer ? spec.issuer->key.get() : out.key.get();
  if (X509_sign(cert, signer, EVP_sha256()) <= 0) {
    throw std::runtime_error("test certificate signing failed");
  }
  out.cert_pem = certPem(cert);
  out.key_pem = keyPem(out.key.get());
  return out;
}

// A self-signed leaf for `dns_name` (also its CN).
inline TestCert selfSigned(const std::string& dns_name, KeyType type = KeyType::kEcdsa) {
  return makeCert({dns_name, {dns_name}, type, false, nullptr});
}

// Lower-case hex SHA-256, computed here independently of the code under test.
inline std::string sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  size_t length = 0;
  EVP_Q_digest(nullptr, "SHA256", nullptr, data.data(), data.size(), digest, &length);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < length; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 15]);
  }
  return out;
}

// Standard base64 with padding, as Kubernetes writes Secret data.
inline std::string base64(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(data.data()),
                                static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

}  // namespace atrium::test_certs
