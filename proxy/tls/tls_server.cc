#include "proxy/tls/tls_server.h"

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/buffer.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <cstring>
#include <stdexcept>

namespace atrium::proxy::tls {

namespace {

// TLS 1.2 suites: forward secrecy and AEAD only (TLS 1.3's are all of that kind).
constexpr const char* kCiphers12 =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

BioPtr memoryBio(const std::string& pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

std::string bioText(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(n));
}

std::string opensslError(const char* what) {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  char buf[256] = {};
  if (e) ERR_error_string_n(e, buf, sizeof(buf));
  return std::string(what) + (e ? std::string(": ") + buf : "");
}

int exDataIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

// ---- session tickets: one key ring for the process, rotated every 12 hours ----------------

struct TicketKey {
  unsigned char name[16];
  unsigned char aes[32];
  unsigned char hmac[32];
  std::chrono::steady_clock::time_point created;
};

class TicketKeys {
 public:
  static TicketKeys& instance() {
    static TicketKeys keys;
    return keys;
  }

  // enc: the key to encrypt with (rotating first when due); !enc: the key named `name`.
  bool get(bool enc, const unsigned char* name, TicketKey& out, bool& is_current) {
    std::lock_guard lock(mu_);
    const auto now = std::chrono::steady_clock::now();
    if (now - current_.created > std::chrono::hours(12)) {
      previous_ = current_;
      have_previous_ = true;
      current_ = fresh();
    }
    if (enc) {
      out = current_;
      is_current = true;
      return true;
    }
    if (std::memcmp(name, current_.name, 16) == 0) {
      out = current_;
      is_current = true;
      return true;
    }
    if (have_previous_ && std::memcmp(name, previous_.name, 16) == 0) {
      out = previous_;
      is_current = false;
      return true;
    }
    return false;
  }

 private:
  TicketKeys() : current_(fresh()) {}
  static TicketKey fresh() {
    TicketKey k;
    if (RAND_bytes(k.name, sizeof k.name) != 1 || RAND_bytes(k.aes, sizeof k.aes) != 1 ||
        RAND_bytes(k.hmac, sizeof k.hmac) != 1) {
      throw std::runtime_error("no randomness for TLS ticket keys");
    }
    k.created = std::chrono::steady_clock::now();
    return k;
  }
  std::mutex mu_;
  TicketKey current_;
  TicketKey previous_{};
  bool have_previous_ = false;
};

int ticketKeyCallback(SSL*, unsigned char key_name[16], unsigned char* iv, EVP_CIPHER_CTX* cipher,
                      EVP_MAC_CTX* mac, int enc) {
  TicketKey key;
  bool is_current = false;
  if (!TicketKeys::instance().get(enc == 1, key_name, key, is_current)) return 0;  // full handshake
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key.hmac, 32),
                         OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  if (enc == 1) {
    std::memcpy(key_name, key.name, 16);
    if (RAND_bytes(iv, EVP_CIPHER_iv_length(EVP_aes_256_cbc())) != 1) return -1;
    if (EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.aes, iv) != 1) return -1;
    if (EVP_MAC_CTX_set_params(mac, params) != 1) return -1;
    return 1;
  }
  if (EVP_MAC_CTX_set_params(mac, params) != 1) return -1;
  if (EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.aes, iv) != 1) return -1;
  return is_current ? 1 : 2;  // 2: valid, but issue a ticket under the current key
}

// ---- per-connection choices -------------------------------------------------------------------

int alpnSelect(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
               unsigned int inlen, void*) {
  static const unsigned char kHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, kHttp11, sizeof kHttp11, in, inlen) ==
      OPENSSL_NPN_NEGOTIATED) {
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
  }
  return SSL_TLSEXT_ERR_NOACK;  // e.g. only h2 offered: carry on without ALPN
}

int applyEntry(SSL* ssl, const HostTable::Entry& entry, int* alert) {
  if (entry.refuse) {
    if (alert) *alert = SSL_AD_ACCESS_DENIED;
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  if (entry.context && SSL_get_SSL_CTX(ssl) != entry.context.get()) {
    SSL_set_SSL_CTX(ssl, entry.context.get());
  }
  if (entry.client_ca) {
    SSL_set_verify(ssl,
                   SSL_VERIFY_PEER | (entry.client_optional ? 0 : SSL_VERIFY_FAIL_IF_NO_PEER_CERT),
                   nullptr);
    SSL_set1_verify_cert_store(ssl, entry.client_ca.get());
  } else {
    SSL_set_verify(ssl, SSL_VERIFY_NONE, nullptr);
  }
  return SSL_TLSEXT_ERR_OK;
}

int onServerName(SSL* ssl, int* alert, void*) {
  const auto* table = static_cast<const HostTable*>(SSL_get_ex_data(ssl, exDataIndex()));
  if (!table) return SSL_TLSEXT_ERR_OK;
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  return applyEntry(ssl, table->find(name ? name : ""), alert);
}

// Settings every server context shares (the base and one per certificate).
void configure(SSL_CTX* ctx) {
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                               SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_cipher_list(ctx, kCiphers12);
  SSL_CTX_set_alpn_select_cb(ctx, alpnSelect, nullptr);
  SSL_CTX_set_tlsext_servername_callback(ctx, onServerName);
  // Resumption is by tickets only (no per-process session cache to share between workers).
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
}

bool useCertificate(SSL_CTX* ctx, const std::string& chain_pem, const std::string& key_pem,
                    std::string& error) {
  auto chain = memoryBio(chain_pem);
  X509* leaf = PEM_read_bio_X509(chain.get(), nullptr, nullptr, nullptr);
  if (!leaf || SSL_CTX_use_certificate(ctx, leaf) != 1) {
    X509_free(leaf);
    error = opensslError("certificate");
    return false;
  }
  X509_free(leaf);
  while (X509* extra = PEM_read_bio_X509(chain.get(), nullptr, nullptr, nullptr)) {
    SSL_CTX_add0_chain_cert(ctx, extra);  // takes ownership
  }
  ERR_clear_error();  // the loop ends on "no start line"
  auto key_bio = memoryBio(key_pem);
  EVP_PKEY* key = PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr);
  const bool ok = key && SSL_CTX_use_PrivateKey(ctx, key) == 1 && SSL_CTX_check_private_key(ctx) == 1;
  EVP_PKEY_free(key);
  if (!ok) {
    error = opensslError("private key");
    return false;
  }
  return true;
}

std::string hexDigest(const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), digest, &n, EVP_sha256(), nullptr);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < n; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 15];
  }
  return out;
}

std::shared_ptr<X509_STORE> caStore(const std::string& pem) {
  std::shared_ptr<X509_STORE> store(X509_STORE_new(), X509_STORE_free);
  auto bio = memoryBio(pem);
  int added = 0;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    X509_STORE_add_cert(store.get(), cert);
    X509_free(cert);
    ++added;
  }
  ERR_clear_error();
  return added ? store : nullptr;
}

// A self-signed ECDSA P-256 certificate for "atrium-default", valid for a year.
void makeSelfSigned(std::string& chain_pem, std::string& key_pem) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
  if (!key || !cert) throw std::runtime_error(opensslError("self-signed certificate"));
  X509_set_version(cert.get(), 2);
  uint64_t serial = 0;
  RAND_bytes(reinterpret_cast<unsigned char*>(&serial), sizeof serial);
  ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert.get()), serial >> 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 365L * 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("atrium-default"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0) {
    throw std::runtime_error(opensslError("signing the self-signed certificate"));
  }
  BioPtr c(BIO_new(BIO_s_mem())), k(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(c.get(), cert.get());
  PEM_write_bio_PrivateKey(k.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  chain_pem = bioText(c.get());
  key_pem = bioText(k.get());
}

}  // namespace

const HostTable::Entry& HostTable::find(std::string_view server_name) const {
  if (!server_name.empty()) {
    std::string name(server_name);
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (auto it = exact_.find(name); it != exact_.end()) return it->second;
    const auto dot = name.find('.');
    if (dot != std::string::npos && dot > 0) {
      if (auto it = wildcard_.find(name.substr(dot + 1)); it != wildcard_.end()) return it->second;
    }
  }
  return default_;
}

struct TlsServer::Impl {
  boost::asio::ssl::context base{boost::asio::ssl::context::tls_server};
  std::string self_signed_chain, self_signed_key;
  std::mutex mu;
  // Contexts by certificate digest + verification: reused while any table holds them.
  std::map<std::string, std::weak_ptr<SSL_CTX>> contexts;

  std::shared_ptr<SSL_CTX> context(const std::string& key, const std::string& chain_pem,
                                   const std::string& key_pem, std::string& error) {
    if (auto it = contexts.find(key); it != contexts.end()) {
      if (auto live = it->second.lock()) return live;
    }
    std::shared_ptr<SSL_CTX> ctx(SSL_CTX_new(TLS_server_method()), SSL_CTX_free);
    if (!ctx) {
      error = opensslError("SSL_CTX_new");
      return nullptr;
    }
    configure(ctx.get());
    if (!useCertificate(ctx.get(), chain_pem, key_pem, error)) return nullptr;
    // Sessions resume only on a context with the same certificate and verification.
    const std::string sid = hexDigest(key).substr(0, SSL_MAX_SID_CTX_LENGTH);
    SSL_CTX_set_session_id_context(ctx.get(), reinterpret_cast<const unsigned char*>(sid.data()),
                                   static_cast<unsigned>(sid.size()));
    contexts[key] = ctx;
    return ctx;
  }
};

TlsServer::TlsServer() : impl_(std::make_unique<Impl>()) {
  SSL_CTX* base = impl_->base.native_handle();
  configure(base);
  SSL_CTX_set_tlsext_ticket_key_evp_cb(base, ticketKeyCallback);
  // One TLS 1.3 ticket per connection (OpenSSL sends two by default): a client resumes with
  // one, and each costs an encryption on every new connection.
  SSL_CTX_set_num_tickets(base, 1);
  makeSelfSigned(impl_->self_signed_chain, impl_->self_signed_key);
  std::string error;
  if (!useCertificate(base, impl_->self_signed_chain, impl_->self_signed_key, error)) {
    throw std::runtime_error("self-signed certificate: " + error);
  }
  const char sid[] = "atrium-default";
  SSL_CTX_set_session_id_context(base, reinterpret_cast<const unsigned char*>(sid),
                                 sizeof(sid) - 1);
}

TlsServer::~TlsServer() = default;

boost::asio::ssl::context& TlsServer::baseContext() { return impl_->base; }

std::shared_ptr<const HostTable> TlsServer::build(const config::ConfigSnapshot& snapshot,
                                                  std::vector<std::string>* errors) {
  std::lock_guard lock(impl_->mu);
  auto table = std::make_shared<HostTable>();
  std::map<std::string, const config::TlsCertificate*> certs;
  for (const auto& c : snapshot.certificates) certs[c.name] = &c;

  // The certificate material for a name ("" = the default certificate).
  auto material = [&](const std::string& name, std::string& chain, std::string& key,
                      std::string& digest) {
    const config::TlsCertificate* c = nullptr;
    if (!name.empty()) {
      auto it = certs.find(name);
      if (it != certs.end()) c = it->second;
    }
    if (!c && !snapshot.default_certificate.empty()) {
      auto it = certs.find(snapshot.default_certificate);
      if (it != certs.end()) c = it->second;
    }
    if (c) {
      chain = c->chain_pem;
      key = c->key_pem;
      digest = c->sha256.empty() ? hexDigest(chain + key) : c->sha256;
    } else {
      chain = impl_->self_signed_chain;
      key = impl_->self_signed_key;
      digest = "self-signed";
    }
  };

  auto makeEntry = [&](const std::string& certificate,
                       const std::optional<config::ClientValidation>& cv,
                       const std::string& where) {
    HostTable::Entry entry;
    std::string chain, key, digest;
    material(certificate, chain, key, digest);
    std::string context_key = digest;
    if (cv) {
      context_key += "|client=" + hexDigest(cv->ca_pem) + (cv->optional ? "+optional" : "");
      if (cv->ca_pem.empty()) {
        entry.refuse = true;
      } else {
        entry.client_ca = caStore(cv->ca_pem);
        entry.client_optional = cv->optional;
        if (!entry.client_ca) entry.refuse = true;
      }
    }
    std::string error;
    if (digest != "self-signed" || cv) {
      entry.context = impl_->context(context_key, chain, key, error);
      if (!entry.context && errors) errors->push_back(where + ": " + error);
    }
    return entry;
  };

  table->default_ = makeEntry(snapshot.default_certificate, std::nullopt, "default certificate");
  for (const auto& host : snapshot.tls_hosts) {
    HostTable::Entry entry =
        makeEntry(host.certificate, host.client_validation, "TLS host " + host.hostname);
    if (host.hostname.rfind("*.", 0) == 0) {
      table->wildcard_[host.hostname.substr(2)] = std::move(entry);
    } else {
      table->exact_[host.hostname] = std::move(entry);
    }
  }
  for (auto it = impl_->contexts.begin(); it != impl_->contexts.end();) {
    it = it->second.expired() ? impl_->contexts.erase(it) : std::next(it);
  }
  return table;
}

void TlsServer::attach(SSL* ssl, const HostTable* table) {
  SSL_set_ex_data(ssl, exDataIndex(), const_cast<HostTable*>(table));
  // Without SNI the servername callback never runs: start on the default entry.
  if (table) applyEntry(ssl, table->find(""), nullptr);
}

std::string TlsServer::verifiedClientSubject(SSL* ssl) {
  X509* peer = SSL_get0_peer_certificate(ssl);
  if (!peer || SSL_get_verify_result(ssl) != X509_V_OK) return "";
  BioPtr bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), X509_get_subject_name(peer), 0, XN_FLAG_RFC2253);
  std::string subject = bioText(bio.get());
  // RFC 2253 output escapes control characters already; never let one reach a header.
  std::erase_if(subject, [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
  return subject;
}

std::string TlsServer::alpn(SSL* ssl) {
  const unsigned char* data = nullptr;
  unsigned int len = 0;
  SSL_get0_alpn_selected(ssl, &data, &len);
  return data ? std::string(reinterpret_cast<const char*>(data), len) : "";
}

std::shared_ptr<boost::asio::ssl::context> makeUpstreamContext(bool verify,
                                                               const std::string& ca_pem) {
  auto ctx = std::make_shared<boost::asio::ssl::context>(boost::asio::ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  // Keep-alive pooling makes resumption rare; a client cache would need locking across workers.
  SSL_CTX_set_session_cache_mode(ctx->native_handle(), SSL_SESS_CACHE_OFF);
  if (!verify) {
    ctx->set_verify_mode(boost::asio::ssl::verify_none);
    return ctx;
  }
  ctx->set_verify_mode(boost::asio::ssl::verify_peer);
  boost::system::error_code ec;
  if (ca_pem.empty()) {
    ctx->set_default_verify_paths(ec);
  } else {
    ctx->add_certificate_authority(boost::asio::buffer(ca_pem), ec);
  }
  if (ec) throw std::runtime_error("upstream CA: " + ec.message());
  return ctx;
}

}  // namespace atrium::proxy::tls
