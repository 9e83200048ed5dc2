// The node's own TLS settings (TLS_CERT / TLS_KEY): a server context built from a PEM
// certificate chain and its key, and its replacement when the files change (SIGHUP). OpenSSL
// and Asio's SSL headers stay in the .cpp.
#pragma once

#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

namespace boost::asio::ssl {
class context;
}

namespace chatrix::net {

/// A certificate or key that cannot be used. what() is one line naming the setting, e.g.
/// "TLS_CERT: cannot read /etc/chatrix/cert.pem: no such file or directory".
class tls_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// What the loaded certificate is, for the logs (the leaf, the first in TLS_CERT).
struct tls_certificate_info {
  std::string subject;      // "CN=chat.example.com"
  std::string not_after;    // "2027-03-01 12:00:00 UTC"
  std::string fingerprint;  // SHA-256 of the DER form, as `openssl x509 -fingerprint -sha256` shows it
  bool expired = false;
};

/// The TLS context new connections get: TLS 1.2 and 1.3 only, ECDHE key exchange with AEAD
/// ciphers (forward secrecy), the server's cipher order, no compression (CRIME), no
/// renegotiation, ALPN "http/1.1". A connection keeps the context it started with, so a
/// reload changes only what later connections see.
///
/// Thread-safety: construct, reload and read on one thread (the I/O thread).
class tls_credentials {
 public:
  /// Reads and checks both files. Throws tls_error when a file cannot be read, holds no PEM
  /// certificate or key, the key is encrypted, or the key is not the certificate's.
  tls_credentials(std::filesystem::path certificate_file, std::filesystem::path key_file);
  ~tls_credentials();
  tls_credentials(const tls_credentials&) = delete;
  tls_credentials& operator=(const tls_credentials&) = delete;

  /// The context for the next connection.
  std::shared_ptr<boost::asio::ssl::context> current() const { return context_; }
  const tls_certificate_info& certificate() const noexcept { return info_; }

  /// Reads both files again: later connections get the new certificate. Throws tls_error as
  /// the constructor does, and then the certificate loaded before stays. Reads the files on
  /// the calling thread: a few kilobytes from local disk, once per SIGHUP.
  void reload();

 private:
  std::filesystem::path certificate_file_;
  std::filesystem::path key_file_;
  std::shared_ptr<boost::asio::ssl::context> context_;
  tls_certificate_info info_;
};

}  // namespace chatrix::net
