// TLS_CERT and TLS_KEY read into a server context with OpenSSL (see tls_context.hpp): the
// files read whole, parsed from memory, every failure one line naming the setting.
#include "net/tls_context.hpp"

#include <boost/asio/ssl/context.hpp>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <ctime>
#include <system_error>
#include <utility>

namespace chatrix::net {

namespace ssl = boost::asio::ssl;

namespace {

/// A certificate chain is a few kilobytes; anything much larger is not one.
constexpr std::size_t max_pem_bytes = 1024 * 1024;

/// TLS 1.2's suites: ECDHE only (forward secrecy) and AEAD only (no CBC, no SHA-1 MACs), the
/// faster first. TLS 1.3's suites all have both; OpenSSL's default list for them stays.
constexpr const char* tls12_ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
constexpr const char* key_exchange_groups = "X25519:P-256:P-384";

/// ALPN's wire form of the one protocol served: HTTP/1.1, WebSocket upgrades included.
constexpr unsigned char alpn_http11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

using bio_ptr = std::unique_ptr<BIO, decltype(&BIO_free)>;
using x509_ptr = std::unique_ptr<X509, decltype(&X509_free)>;
using pkey_ptr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

[[noreturn]] void fail(const char* variable, const std::filesystem::path& file, std::string_view what,
                       std::string_view reason) {
  throw tls_error(std::string(variable) + ": " + std::string(what) + " " + file.string() + ": " + std::string(reason));
}

/// An OS error in the style of the configuration messages ("no such file or directory").
std::string os_reason(int errnum) {
  auto message = std::error_code(errnum, std::generic_category()).message();
  if (!message.empty()) message[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(message[0])));
  return message;
}

/// The reason of OpenSSL's latest error; its error queue is left empty.
std::string openssl_reason() {
  const unsigned long code = ERR_peek_last_error();
  ERR_clear_error();
  const char* reason = ERR_reason_error_string(code);
  return reason != nullptr ? reason : "unknown OpenSSL error " + std::to_string(code);
}

/// Whether OpenSSL's latest error says the PEM data has no (further) block of the kind asked for.
bool no_pem_block() {
  const unsigned long code = ERR_peek_last_error();
  return ERR_GET_LIB(code) == ERR_LIB_PEM && ERR_GET_REASON(code) == PEM_R_NO_START_LINE;
}

/// The whole file, read at once: the certificate and key come from one read each, and an
/// unreadable file is reported with the OS's reason.
std::string read_pem_file(const std::filesystem::path& file, const char* variable) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(variable, file, "cannot read", os_reason(errno));
  std::string text;
  char chunk[16 * 1024];
  ssize_t n = 0;
  while ((n = ::read(fd, chunk, sizeof chunk)) > 0 && text.size() <= max_pem_bytes) {
    text.append(chunk, static_cast<std::size_t>(n));
  }
  const int err = errno;
  ::close(fd);
  if (n < 0) fail(variable, file, "cannot read", os_reason(err));
  if (text.size() > max_pem_bytes) fail(variable, file, "cannot read", "larger than 1 MiB, not a PEM file");
  return text;
}

bio_ptr memory_bio(const std::string& text) {
  return bio_ptr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())), &BIO_free);
}

/// Never asks for a passphrase: OpenSSL's default would prompt on the terminal, and a service
/// has nobody to answer. Notes that one was wanted, so the error can say so.
int refuse_passphrase(char* /*buf*/, int /*size*/, int /*rwflag*/, void* asked) {
  *static_cast<bool*>(asked) = true;
  return -1;
}

int select_alpn(SSL* /*ssl*/, const unsigned char** out, unsigned char* out_length, const unsigned char* offered,
                unsigned int offered_length, void* /*arg*/) {
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, out_length, alpn_http11, sizeof alpn_http11, offered, offered_length) !=
      OPENSSL_NPN_NEGOTIATED) {
    // RFC 7301 3.2: a client offering only protocols we do not speak (h2 alone) is refused.
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

std::string subject_of(X509* certificate) {
  bio_ptr out(BIO_new(BIO_s_mem()), &BIO_free);
  X509_NAME_print_ex(out.get(), X509_get_subject_name(certificate), 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  const long size = BIO_get_mem_data(out.get(), &data);
  return size > 0 ? std::string(data, static_cast<std::size_t>(size)) : std::string("(no subject)");
}

std::string time_text(const ASN1_TIME* when) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(when, &tm) != 1) return "unknown";
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return text;
}

std::string sha256_fingerprint(X509* certificate) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (X509_digest(certificate, EVP_sha256(), digest, &size) != 1) return "unknown";
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned i = 0; i < size; ++i) {
    if (i > 0) out += ':';
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 0xF];
  }
  return out;
}

/// The server settings every context gets, before its certificate.
std::shared_ptr<ssl::context> configured_context() {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* ctx = context->native_handle();
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  // Compression leaks secrets through sizes (CRIME); renegotiation is a denial-of-service lever
  // and has no use here; the server's cipher order keeps clients on the strongest shared suite.
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // Idle connections give their OpenSSL record buffers back (about 34 KiB each).
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_set_cipher_list(ctx, tls12_ciphers) != 1 || SSL_CTX_set1_groups_list(ctx, key_exchange_groups) != 1) {
    throw tls_error("TLS_CERT: cannot set up TLS with this OpenSSL: " + openssl_reason());
  }
  SSL_CTX_set_alpn_select_cb(ctx, select_alpn, nullptr);
  return context;
}

struct loaded {
  std::shared_ptr<ssl::context> context;
  tls_certificate_info info;
};

loaded load(const std::filesystem::path& certificate_file, const std::filesystem::path& key_file) {
  // Both files are read before either is parsed: an unreadable key is reported as such even
  // when the certificate is damaged too.
  const auto certificate_text = read_pem_file(certificate_file, "TLS_CERT");
  const auto key_text = read_pem_file(key_file, "TLS_KEY");
  ERR_clear_error();
  auto context = configured_context();
  SSL_CTX* ctx = context->native_handle();

  bool asked = false;
  auto certificates = memory_bio(certificate_text);
  x509_ptr leaf(PEM_read_bio_X509_AUX(certificates.get(), nullptr, refuse_passphrase, &asked), &X509_free);
  if (!leaf) {
    if (no_pem_block()) {
      ERR_clear_error();
      fail("TLS_CERT", certificate_file, "cannot read", "no PEM certificate in it (-----BEGIN CERTIFICATE-----)");
    }
    fail("TLS_CERT", certificate_file, "cannot read", openssl_reason());
  }
  // Refused here: a key too small for OpenSSL's security level, a weak signature.
  if (SSL_CTX_use_certificate(ctx, leaf.get()) != 1) fail("TLS_CERT", certificate_file, "cannot use", openssl_reason());
  // The rest of the file is the chain to the root, sent along so that clients can verify.
  for (;;) {
    x509_ptr next(PEM_read_bio_X509(certificates.get(), nullptr, refuse_passphrase, &asked), &X509_free);
    if (!next) {
      if (!no_pem_block()) fail("TLS_CERT", certificate_file, "cannot read", "its chain: " + openssl_reason());
      ERR_clear_error();
      break;
    }
    if (SSL_CTX_add0_chain_cert(ctx, next.get()) != 1) {
      fail("TLS_CERT", certificate_file, "cannot use", "its chain: " + openssl_reason());
    }
    static_cast<void>(next.release());  // the context owns it now
  }

  auto keys = memory_bio(key_text);
  asked = false;
  pkey_ptr key(PEM_read_bio_PrivateKey(keys.get(), nullptr, refuse_passphrase, &asked), &EVP_PKEY_free);
  if (!key) {
    // OpenSSL 3's decoders report "unsupported" for anything they cannot read, PEM or not.
    ERR_clear_error();
    if (asked) {
      fail("TLS_KEY", key_file, "cannot read",
           "the key is encrypted; store it without a passphrase, readable only by the server's user");
    }
    if (key_text.find("PRIVATE KEY-----") == std::string::npos) {
      fail("TLS_KEY", key_file, "cannot read", "no PEM private key in it (-----BEGIN PRIVATE KEY-----)");
    }
    fail("TLS_KEY", key_file, "cannot read", "its private key is damaged or of a type this OpenSSL cannot use");
  }
  if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    ERR_clear_error();
    fail("TLS_KEY", key_file, "cannot use",
         "it is not the key of the certificate in TLS_CERT (" + certificate_file.string() + ")");
  }

  tls_certificate_info info;
  info.subject = subject_of(leaf.get());
  info.not_after = time_text(X509_get0_notAfter(leaf.get()));
  info.fingerprint = sha256_fingerprint(leaf.get());
  info.expired = X509_cmp_current_time(X509_get0_notAfter(leaf.get())) < 0;
  return {std::move(context), std::move(info)};
}

}  // namespace

tls_credentials::tls_credentials(std::filesystem::path certificate_file, std::filesystem::path key_file)
    : certificate_file_(std::move(certificate_file)), key_file_(std::move(key_file)) {
  reload();
}

tls_credentials::~tls_credentials() = default;

void tls_credentials::reload() {
  loaded next;
  try {
    next = load(certificate_file_, key_file_);
  } catch (const tls_error&) {
    throw;
  } catch (const std::exception& e) {
    // Asio's context throws system_error when OpenSSL cannot make one (out of memory): still
    // a failed load, which a reload must survive.
    throw tls_error(std::string("TLS_CERT: cannot set up TLS: ") + e.what());
  }
  context_ = std::move(next.context);
  info_ = std::move(next.info);
}

}  // namespace chatrix::net
