#include "controller/translator/certificates.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>
#include <stdexcept>

#include "controller/translator/field_reader.h"
#include "src/common/base64.h"

namespace atrium::controller::translator {

namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

std::unique_ptr<BIO, BioFree> memoryBio(const std::string& pem) {
  return std::unique_ptr<BIO, BioFree>(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// Every certificate in `pem`, in order; empty when there is none or one does not parse.
std::vector<std::unique_ptr<X509, X509Free>> readCertificates(const std::string& pem,
                                                               std::string& problem) {
  std::vector<std::unique_ptr<X509, X509Free>> out;
  auto bio = memoryBio(pem);
  for (;;) {
    X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
    if (!cert) break;
    out.emplace_back(cert);
  }
  // Reading stops with "no start line" at the end of the input; anything else is an error.
  unsigned long err = ERR_peek_last_error();
  ERR_clear_error();
  if (out.empty()) {
    problem = "no PEM certificate found";
  } else if (err && ERR_GET_REASON(err) != PEM_R_NO_START_LINE) {
    problem = "a certificate does not parse";
    out.clear();
  }
  return out;
}

// Secret data[key], base64-decoded; nullopt with `problem` when absent or invalid.
std::optional<std::string> secretValue(const KubeObject& secret, const std::string& key,
                                       std::string& problem) {
  const auto& value = jsonAt(jsonAt(secret.body, "data"), key.c_str());
  if (!value.is_string()) {
    problem = "has no data key \"" + key + "\"";
    return std::nullopt;
  }
  try {
    return common::decodeBase64(value.get<std::string>());
  } catch (const std::exception&) {
    problem = "data key \"" + key + "\" is not valid base64";
    return std::nullopt;
  }
}

}  // namespace

std::string checkCertificatePair(const std::string& chain_pem, const std::string& key_pem) {
  std::string problem;
  auto chain = readCertificates(chain_pem, problem);
  if (chain.empty()) return "tls.crt: " + problem;
  auto bio = memoryBio(key_pem);
  std::unique_ptr<EVP_PKEY, PkeyFree> key(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (!key) return "tls.key: no usable PEM private key";
  if (X509_check_private_key(chain.front().get(), key.get()) != 1) {
    ERR_clear_error();
    return "tls.key does not match the certificate in tls.crt";
  }
  return "";
}

std::string checkCaBundle(const std::string& pem) {
  std::string problem;
  return readCertificates(pem, problem).empty() ? problem : "";
}

std::string sha256Hex(const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < length; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 15]);
  }
  return out;
}

CertificateResolver::CertificateResolver(const ObjectStore& objects,
                                         std::map<std::string, config::TlsCertificate>* last_good)
    : objects_(objects), last_good_(last_good) {}

CertificateResolver::Result CertificateResolver::certificate(const std::string& ns,
                                                             const std::string& name) {
  const std::string key = ns + "/" + name;
  if (auto bad = invalid_.find(key); bad != invalid_.end()) {
    const bool kept = last_good_ && last_good_->count(key);
    if (kept) used_[key] = (*last_good_)[key];
    return {kept ? key : "", bad->second};
  }
  if (used_.count(key)) return {key, ""};
  std::string problem;
  const KubeObject* secret = objects_.find("Secret", ns, name);
  if (!secret) {
    problem = "Secret " + key + " not found";
  } else {
    const auto& type = jsonAt(secret->body, "type");
    if (type.is_string() && type.get<std::string>() != "kubernetes.io/tls") {
      problem = "Secret " + key + " is of type " + type.get<std::string>() +
                ", not kubernetes.io/tls";
    }
    std::optional<std::string> chain, pem_key;
    if (problem.empty()) chain = secretValue(*secret, "tls.crt", problem);
    if (problem.empty()) pem_key = secretValue(*secret, "tls.key", problem);
    if (problem.empty()) {
      problem = checkCertificatePair(*chain, *pem_key);
      if (problem.empty()) {
        config::TlsCertificate cert{key, *chain, *pem_key, sha256Hex(*chain + *pem_key)};
        used_[key] = std::move(cert);
        return {key, ""};
      }
    }
    if (problem.rfind("Secret ", 0) != 0) problem = "Secret " + key + ": " + problem;
  }
  invalid_[key] = problem;
  const bool kept = last_good_ && last_good_->count(key);
  if (kept) {
    used_[key] = (*last_good_)[key];
    problem += "; the last valid certificate of this Secret is still served";
    invalid_[key] = problem;
  }
  return {kept ? key : "", problem};
}

std::optional<std::string> CertificateResolver::caBundle(const std::string& ns,
                                                         const std::string& name,
                                                         const std::string& key,
                                                         std::string& problem) {
  const std::string where = "Secret " + ns + "/" + name;
  const KubeObject* secret = objects_.find("Secret", ns, name);
  if (!secret) {
    problem = where + " not found";
    invalid_[ns + "/" + name + "#" + key] = problem;
    return std::nullopt;
  }
  auto pem = secretValue(*secret, key, problem);
  if (!pem) {
    problem = where + " " + problem;
  } else if (auto bad = checkCaBundle(*pem); !bad.empty()) {
    problem = where + " data key \"" + key + "\": " + bad;
    pem.reset();
  }
  if (!pem) invalid_[ns + "/" + name + "#" + key] = problem;
  return pem;
}

std::vector<config::TlsCertificate> CertificateResolver::take() {
  // Remember exactly what is served now: Secrets no longer referenced are forgotten.
  if (last_good_) *last_good_ = used_;
  std::vector<config::TlsCertificate> out;
  for (auto& [name, cert] : used_) out.push_back(std::move(cert));
  used_.clear();
  return out;
}

}  // namespace atrium::controller::translator
