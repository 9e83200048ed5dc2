// TLS test helpers for a server on 127.0.0.1 with TLS_CERT/TLS_KEY: a self-signed certificate
// made with OpenSSL's API, HTTPS requests and a WebSocket client over TLS (wss), each able to
// tell which certificate the server presented. No Beast or Asio SSL in this header.
#pragma once

#include "support/http_client.hpp"

#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>

namespace chatrix::test {

/// Writes a new self-signed certificate (EC P-256, valid for a day, CN=`common_name`, names
/// localhost and 127.0.0.1) and its unencrypted private key, both PEM. Throws on failure.
void write_self_signed_certificate(const std::filesystem::path& certificate, const std::filesystem::path& key,
                                   const std::string& common_name);

/// Writes the PEM key in `key` again to `encrypted`, encrypted (AES-256) with `passphrase`.
void write_encrypted_key(const std::filesystem::path& key, const std::filesystem::path& encrypted,
                         const std::string& passphrase);

/// The SHA-256 fingerprint of the first certificate in a PEM file, as the server logs it and
/// `openssl x509 -noout -fingerprint -sha256` prints it ("AB:CD:...").
std::string certificate_fingerprint(const std::filesystem::path& certificate);

/// An HTTPS answer and what the TLS session was.
struct https_response : http_response {
  std::string fingerprint;  // the server certificate's, as certificate_fingerprint()
  std::string alpn;         // the protocol the server selected ("" = none)
};

/// One request over TLS on a fresh connection, offering ALPN http/1.1. The certificate is not
/// verified (the test made it; compare fingerprints instead). Throws on any failure, and when
/// the server takes longer than 15 s (a hung server, not a speed check).
https_response https_request(std::uint16_t port, const std::string& method, const std::string& target,
                             const std::string& body = "", const header_map& headers = {});

/// Connects to 127.0.0.1:`port`, writes `bytes`, and reads until the server closes the
/// connection; returns what it sent, or nullopt if it had not closed within `timeout`.
std::optional<std::string> read_until_closed(std::uint16_t port, const std::string& bytes,
                                             std::chrono::milliseconds timeout);

/// A WebSocket over TLS to 127.0.0.1. Every call is bounded by a timeout and throws
/// std::runtime_error (a test failure) on errors. Thread-safety: one test thread.
class wss_client {
 public:
  wss_client();
  ~wss_client();
  wss_client(const wss_client&) = delete;
  wss_client& operator=(const wss_client&) = delete;

  /// TLS handshake (ALPN http/1.1), then the WebSocket upgrade on `path`.
  void connect(std::uint16_t port, const std::string& path = "/ws");
  void send_text(const std::string& text);
  /// The next text frame; nullopt on timeout or once the connection has closed.
  std::optional<std::string> recv(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  /// The next frame whose "type" is `type`, dropping those whose type is in `skip`; any other
  /// frame, a timeout or a close throws.
  boost::json::value recv_type(int type, std::initializer_list<int> skip = {},
                               std::chrono::milliseconds timeout = std::chrono::seconds(5));
  /// The certificate the server presented on this connection (certificate_fingerprint's form).
  const std::string& fingerprint() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace chatrix::test
