#pragma once
// TLS termination, shared by all workers (SPEC §2, issue 4). Every connection to the HTTPS
// listener starts on one base context; during the handshake the SNI callback moves it to the
// context of the certificate for that name (exact names, then one-label wildcards, then the
// default: --default-tls-secret or a self-signed certificate made at start) and applies that
// host's client-certificate verification. Contexts are built once per distinct certificate and
// reused across configurations, so a configuration change costs nothing for unchanged
// certificates, and a rotated Secret is served to new connections at once while open
// connections keep theirs.
//
// Protocols: TLS 1.2 and 1.3 only, ECDHE with AEAD ciphers; ALPN "http/1.1" (a client offering
// only h2 gets no ALPN). Resumption: stateless session tickets whose keys rotate every 12 hours
// (the previous key still decrypts), the same keys for every worker because they live in the
// base context; each certificate/verification combination has its own session id context so a
// ticket issued for one host cannot skip another host's client verification.
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "src/config/snapshot.h"

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;
typedef struct x509_store_st X509_STORE;

namespace boost::asio::ssl {
class context;
}

namespace atrium::proxy::tls {

// One configuration's answer to "which certificate and verification for this SNI name".
class HostTable {
 public:
  struct Entry {
    std::shared_ptr<SSL_CTX> context;        // null: stay on the base context
    std::shared_ptr<X509_STORE> client_ca;   // set: client certificates are verified
    bool client_optional = false;
    bool refuse = false;  // the host's client CA was unusable: no client is let in
  };
  const Entry& find(std::string_view server_name) const;

 private:
  friend class TlsServer;
  std::unordered_map<std::string, Entry> exact_;
  std::unordered_map<std::string, Entry> wildcard_;  // "example.com" for "*.example.com"
  Entry default_;
};

class TlsServer {
 public:
  // Builds the base context and the self-signed default certificate. Throws
  // std::runtime_error when OpenSSL cannot.
  TlsServer();
  ~TlsServer();
  TlsServer(const TlsServer&) = delete;
  TlsServer& operator=(const TlsServer&) = delete;

  boost::asio::ssl::context& baseContext();

  // The table for `snapshot`. Certificates that cannot be loaded (the controller checked them,
  // so this is unexpected) are reported in `errors` and their hosts get the default.
  std::shared_ptr<const HostTable> build(const config::ConfigSnapshot& snapshot,
                                         std::vector<std::string>* errors);

  // Before a handshake: the table this connection's SNI is resolved in (must outlive the
  // handshake). Also applies the default certificate to connections without SNI.
  static void attach(SSL* ssl, const HostTable* table);
  // After the handshake: the subject (RFC 2253) of the client certificate if one was
  // presented and verified, else "".
  static std::string verifiedClientSubject(SSL* ssl);
  // The negotiated ALPN protocol ("" when none).
  static std::string alpn(SSL* ssl);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Client side: a context for connecting to one upstream cluster over TLS (TLS 1.2+, verifying
// against `ca_pem` or the system CAs when `verify`). Throws std::runtime_error on bad PEM.
std::shared_ptr<boost::asio::ssl::context> makeUpstreamContext(bool verify,
                                                               const std::string& ca_pem);

}  // namespace atrium::proxy::tls
