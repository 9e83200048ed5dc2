// TLS test helpers on Asio's SSL stream and Beast. See tls_client.hpp. Every operation is
// asynchronous and run on the caller's thread until it completes or its deadline passes, so
// a server that stops answering fails the test instead of hanging it.
#include "support/tls_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/json.hpp>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <deque>
#include <functional>
#include <random>
#include <stdexcept>

namespace chatrix::test {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

namespace {

constexpr auto io_timeout = std::chrono::seconds(15);
constexpr unsigned char alpn_http11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

template <class T, void (*Free)(T*)>
struct openssl_deleter {
  void operator()(T* p) const { Free(p); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, openssl_deleter<EVP_PKEY, EVP_PKEY_free>>;
using x509_ptr = std::unique_ptr<X509, openssl_deleter<X509, X509_free>>;
using bio_ptr = std::unique_ptr<BIO, openssl_deleter<BIO, BIO_free_all>>;
using extension_ptr = std::unique_ptr<X509_EXTENSION, openssl_deleter<X509_EXTENSION, X509_EXTENSION_free>>;

void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("OpenSSL: ") + what + " failed");
}

std::string fingerprint_of(X509* certificate) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  check(X509_digest(certificate, EVP_sha256(), digest, &size) == 1, "X509_digest");
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned i = 0; i < size; ++i) {
    if (i > 0) out += ':';
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 0xF];
  }
  return out;
}

std::string peer_fingerprint(SSL* ssl) {
  x509_ptr certificate(SSL_get1_peer_certificate(ssl));
  if (!certificate) throw std::runtime_error("the server presented no certificate");
  return fingerprint_of(certificate.get());
}

std::string selected_alpn(SSL* ssl) {
  const unsigned char* name = nullptr;
  unsigned int length = 0;
  SSL_get0_alpn_selected(ssl, &name, &length);
  return name != nullptr ? std::string(reinterpret_cast<const char*>(name), length) : std::string();
}

/// A client context: TLS 1.2+, ALPN http/1.1, no verification (the tests compare fingerprints).
std::unique_ptr<ssl::context> client_context() {
  auto context = std::make_unique<ssl::context>(ssl::context::tls_client);
  context->set_verify_mode(ssl::verify_none);
  check(SSL_CTX_set_alpn_protos(context->native_handle(), alpn_http11, sizeof alpn_http11) == 0, "set ALPN");
  return context;
}

/// Runs `ioc` on this thread until `done()` or the deadline; false on the deadline.
template <class Done>
bool run_until(asio::io_context& ioc, Done done, std::chrono::steady_clock::duration timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (ioc.stopped()) ioc.restart();
    if (ioc.run_one_until(deadline) == 0 && (ioc.stopped() || std::chrono::steady_clock::now() >= deadline)) {
      return done();
    }
  }
  return true;
}

/// Starts an operation with a handler that records its error, runs it to completion, and
/// throws if it failed or outlived `timeout`.
template <class Initiate>
void run_op(asio::io_context& ioc, const char* what, Initiate initiate,
            std::chrono::steady_clock::duration timeout = io_timeout) {
  std::optional<error_code> result;
  initiate([&result](error_code ec, auto&&...) { result = ec; });
  if (!run_until(ioc, [&] { return result.has_value(); }, timeout)) {
    throw std::runtime_error(std::string(what) + ": no answer in time");
  }
  if (*result) throw std::runtime_error(std::string(what) + ": " + result->message());
}

tcp::endpoint loopback(std::uint16_t port) { return {asio::ip::make_address("127.0.0.1"), port}; }

}  // namespace

// ---- certificates ----

void write_self_signed_certificate(const std::filesystem::path& certificate, const std::filesystem::path& key,
                                   const std::string& common_name) {
  pkey_ptr pkey(EVP_EC_gen("P-256"));
  check(pkey != nullptr, "EVP_EC_gen");
  x509_ptr x(X509_new());
  check(x != nullptr, "X509_new");
  check(X509_set_version(x.get(), 2) == 1, "X509_set_version");
  std::random_device random;
  check(ASN1_INTEGER_set(X509_get_serialNumber(x.get()), static_cast<long>(random() & 0x7FFFFFFF)) == 1, "serial");
  X509_gmtime_adj(X509_getm_notBefore(x.get()), -60);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), 24 * 3600);
  check(X509_set_pubkey(x.get(), pkey.get()) == 1, "X509_set_pubkey");
  X509_NAME* name = X509_get_subject_name(x.get());
  check(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(common_name.c_str()),
                                   -1, -1, 0) == 1,
        "subject");
  check(X509_set_issuer_name(x.get(), name) == 1, "issuer");
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, x.get(), x.get(), nullptr, nullptr, 0);
  extension_ptr names(X509V3_EXT_conf_nid(nullptr, &v3, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1"));
  check(names != nullptr && X509_add_ext(x.get(), names.get(), -1) == 1, "subjectAltName");
  check(X509_sign(x.get(), pkey.get(), EVP_sha256()) > 0, "X509_sign");

  bio_ptr cert_out(BIO_new_file(certificate.c_str(), "w"));
  check(cert_out != nullptr && PEM_write_bio_X509(cert_out.get(), x.get()) == 1, "writing the certificate");
  bio_ptr key_out(BIO_new_file(key.c_str(), "w"));
  check(key_out != nullptr &&
            PEM_write_bio_PrivateKey(key_out.get(), pkey.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1,
        "writing the key");
}

void write_encrypted_key(const std::filesystem::path& key, const std::filesystem::path& encrypted,
                         const std::string& passphrase) {
  bio_ptr in(BIO_new_file(key.c_str(), "r"));
  check(in != nullptr, "opening the key");
  pkey_ptr pkey(PEM_read_bio_PrivateKey(in.get(), nullptr, nullptr, nullptr));
  check(pkey != nullptr, "reading the key");
  bio_ptr out(BIO_new_file(encrypted.c_str(), "w"));
  check(out != nullptr && PEM_write_bio_PKCS8PrivateKey(out.get(), pkey.get(), EVP_aes_256_cbc(), passphrase.data(),
                                                        static_cast<int>(passphrase.size()), nullptr, nullptr) == 1,
        "writing the encrypted key");
}

std::string certificate_fingerprint(const std::filesystem::path& certificate) {
  bio_ptr in(BIO_new_file(certificate.c_str(), "r"));
  check(in != nullptr, "opening the certificate");
  x509_ptr x(PEM_read_bio_X509(in.get(), nullptr, nullptr, nullptr));
  check(x != nullptr, "reading the certificate");
  return fingerprint_of(x.get());
}

// ---- HTTPS ----

https_response https_request(std::uint16_t port, const std::string& method, const std::string& target,
                             const std::string& body, const header_map& headers) {
  asio::io_context ioc;
  auto context = client_context();
  ssl::stream<tcp::socket> stream(ioc, *context);
  SSL_set_tlsext_host_name(stream.native_handle(), "localhost");
  run_op(ioc, "TCP connect", [&](auto handler) { stream.next_layer().async_connect(loopback(port), handler); });
  run_op(ioc, "TLS handshake", [&](auto handler) { stream.async_handshake(ssl::stream_base::client, handler); });

  http::request<http::string_body> req;
  req.method_string(method);
  req.target(target);
  req.version(11);
  req.set(http::field::host, "localhost:" + std::to_string(port));
  req.set(http::field::connection, "close");
  for (const auto& [k, v] : headers) req.set(k, v);
  if (!body.empty() && headers.count("Content-Type") == 0) req.set(http::field::content_type, "application/json");
  req.body() = body;
  if (!body.empty() || method == "POST") req.prepare_payload();
  run_op(ioc, "writing the request", [&](auto handler) { http::async_write(stream, req, handler); });

  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  run_op(ioc, "reading the answer", [&](auto handler) { http::async_read(stream, buffer, res, handler); });

  https_response out;
  out.status = static_cast<int>(res.result_int());
  for (const auto& field : res) out.headers.emplace(std::string(field.name_string()), std::string(field.value()));
  out.body = std::move(res.body());
  out.fingerprint = peer_fingerprint(stream.native_handle());
  out.alpn = selected_alpn(stream.native_handle());
  return out;
}

std::optional<std::string> read_until_closed(std::uint16_t port, const std::string& bytes,
                                             std::chrono::milliseconds timeout) {
  asio::io_context ioc;
  tcp::socket socket(ioc);
  run_op(ioc, "TCP connect", [&](auto handler) { socket.async_connect(loopback(port), handler); });
  if (!bytes.empty()) {
    run_op(ioc, "writing", [&](auto handler) { asio::async_write(socket, asio::buffer(bytes), handler); });
  }
  std::string received;
  bool closed = false;
  std::array<char, 4096> chunk;
  std::function<void()> read_more = [&] {
    socket.async_read_some(asio::buffer(chunk), [&](error_code ec, std::size_t n) {
      if (ec) {
        closed = true;  // EOF or a reset: either way the server let go
        return;
      }
      received.append(chunk.data(), n);
      read_more();
    });
  };
  read_more();
  if (!run_until(ioc, [&] { return closed; }, timeout)) return std::nullopt;
  return received;
}

// ---- wss ----

struct wss_client::impl {
  asio::io_context ioc;
  std::unique_ptr<ssl::context> context = client_context();
  websocket::stream<ssl::stream<tcp::socket>> ws{ioc, *context};
  beast::flat_buffer buffer;
  std::deque<std::string> frames;
  bool reading = false;
  bool closed = false;
  std::string close_reason;
  std::string fingerprint;

  void start_read() {
    reading = true;
    ws.async_read(buffer, [this](error_code ec, std::size_t) {
      reading = false;
      if (ec) {
        closed = true;
        close_reason = ec.message();
        return;
      }
      frames.push_back(beast::buffers_to_string(buffer.data()));
      buffer.consume(buffer.size());
    });
  }
};

wss_client::wss_client() : impl_(std::make_unique<impl>()) {}
wss_client::~wss_client() = default;

void wss_client::connect(std::uint16_t port, const std::string& path) {
  auto& s = *impl_;
  auto& tls = s.ws.next_layer();
  SSL_set_tlsext_host_name(tls.native_handle(), "localhost");
  run_op(s.ioc, "TCP connect", [&](auto handler) { tls.next_layer().async_connect(loopback(port), handler); });
  run_op(s.ioc, "TLS handshake", [&](auto handler) { tls.async_handshake(ssl::stream_base::client, handler); });
  s.fingerprint = peer_fingerprint(tls.native_handle());
  run_op(s.ioc, "WebSocket upgrade",
         [&](auto handler) { s.ws.async_handshake("localhost:" + std::to_string(port), path, handler); });
}

void wss_client::send_text(const std::string& text) {
  auto& s = *impl_;
  s.ws.text(true);
  run_op(s.ioc, "sending a frame", [&](auto handler) { s.ws.async_write(asio::buffer(text), handler); });
}

std::optional<std::string> wss_client::recv(std::chrono::milliseconds timeout) {
  auto& s = *impl_;
  if (s.frames.empty() && !s.closed && !s.reading) s.start_read();
  run_until(s.ioc, [&] { return !s.frames.empty() || s.closed; }, timeout);
  if (s.frames.empty()) return std::nullopt;
  auto frame = std::move(s.frames.front());
  s.frames.pop_front();
  return frame;
}

json::value wss_client::recv_type(int type, std::initializer_list<int> skip, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    auto frame = recv(std::max(left, std::chrono::milliseconds(0)));
    if (!frame) {
      throw std::runtime_error("no frame of type " + std::to_string(type) +
                               (impl_->closed ? ": the connection closed (" + impl_->close_reason + ")" : " in time"));
    }
    auto value = json::parse(*frame);
    const auto got = static_cast<int>(value.at("type").to_number<std::int64_t>());
    if (got == type) return value;
    if (std::find(skip.begin(), skip.end(), got) == skip.end()) {
      throw std::runtime_error("expected a frame of type " + std::to_string(type) + ", got " + *frame);
    }
  }
}

const std::string& wss_client::fingerprint() const { return impl_->fingerprint; }

}  // namespace chatrix::test
