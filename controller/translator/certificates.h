#pragma once
// kubernetes.io/tls Secrets → checked certificates for the snapshot. A Secret that is missing,
// not PEM, or whose key does not match its certificate is reported; when the same Secret was
// good before (remembered across translations in `last_good`), that content keeps being served,
// so a bad update never takes a working host down.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "controller/store/object_store.h"
#include "src/config/snapshot.h"

namespace atrium::controller::translator {

// Checks PEM material: every certificate parses, the key parses and matches the first (leaf)
// certificate. Returns an empty string when good, else the reason.
std::string checkCertificatePair(const std::string& chain_pem, const std::string& key_pem);
// Checks a PEM CA bundle (at least one certificate, all parse).
std::string checkCaBundle(const std::string& pem);
// Hex SHA-256 of `data`.
std::string sha256Hex(const std::string& data);

class CertificateResolver {
 public:
  CertificateResolver(const ObjectStore& objects,
                      std::map<std::string, config::TlsCertificate>* last_good);

  struct Result {
    std::string certificate;  // name to use; empty when none
    std::string problem;      // why the Secret is unusable (even if an older copy is used)
  };
  // The certificate of Secret ns/name.
  Result certificate(const std::string& ns, const std::string& name);
  // data[key] of Secret ns/name as a CA bundle; nullopt with `problem` set when unusable.
  std::optional<std::string> caBundle(const std::string& ns, const std::string& name,
                                      const std::string& key, std::string& problem);

  // The certificates handed out, sorted by name; updates `last_good`.
  std::vector<config::TlsCertificate> take();
  // Secrets referenced for TLS (certificates, CA bundles) that are unusable right now.
  size_t invalidCount() const { return invalid_.size(); }

 private:
  const ObjectStore& objects_;
  std::map<std::string, config::TlsCertificate>* last_good_;
  std::map<std::string, config::TlsCertificate> used_;
  std::map<std::string, std::string> invalid_;  // name → problem
};

}  // namespace atrium::controller::translator
