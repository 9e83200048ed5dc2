// hiredis glue: its reader builds redisReply trees that we copy into owned `reply` values and
// free at once, so no hiredis allocation outlives a call.
#include "cluster/redis/resp_reader.hpp"

#include <hiredis.h>

#include <cstdio>
#include <memory>
#include <new>
#include <stdexcept>

namespace chatrix::cluster::redis {
namespace {

reply convert(const redisReply& r) {
  switch (r.type) {
    case REDIS_REPLY_STATUS:
      return reply::status(std::string(r.str, r.len));
    case REDIS_REPLY_ERROR:
      return reply::error(std::string(r.str, r.len));
    case REDIS_REPLY_INTEGER:
      return reply::integer_value(r.integer);
    case REDIS_REPLY_STRING:
      return reply::string(std::string(r.str, r.len));
    case REDIS_REPLY_ARRAY: {
      std::vector<reply> elements;
      elements.reserve(r.elements);
      for (std::size_t i = 0; i < r.elements; ++i) elements.push_back(convert(*r.element[i]));
      return reply::array(std::move(elements));
    }
    case REDIS_REPLY_NIL:
    default:
      return reply::nil();
  }
}

void render(std::string& out, const reply& r) {
  auto quoted = [&out](std::string_view s) {
    out += '"';
    for (unsigned char c : s) {
      if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
        out += static_cast<char>(c);
      } else {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\x%02x", c);
        out += buf;
      }
    }
    out += '"';
  };
  switch (r.type) {
    case reply::kind::status: out += '+'; out += r.str; break;
    case reply::kind::error: out += '-'; out += r.str; break;
    case reply::kind::integer: out += ':'; out += std::to_string(r.integer); break;
    case reply::kind::string: out += '$'; quoted(r.str); break;
    case reply::kind::nil: out += "(nil)"; break;
    case reply::kind::array:
      out += '[';
      for (std::size_t i = 0; i < r.elements.size(); ++i) {
        if (i) out += ", ";
        render(out, r.elements[i]);
      }
      out += ']';
      break;
  }
}

// hiredis 0.14 (Debian 12's) allocates an array's element table as soon as it has read the
// header, so 14 bytes, "*2147483647\r\n", ask calloc for 16 GiB (found by fuzz/resp_fuzz.cpp).
// Later versions have a maxelements setting; this one takes a table of object constructors,
// so the array constructor is wrapped to refuse larger counts. hiredis reports the refusal as
// "Out of memory", which next() returns as a protocol_error. The bus's replies have a few
// elements per node or device, so the bound is far from anything real.
constexpr int max_reply_elements = 1 << 20;

void* (*hiredis_create_array)(const redisReadTask*, int) = nullptr;

void* create_bounded_array(const redisReadTask* task, int elements) {
  return elements > max_reply_elements ? nullptr : hiredis_create_array(task, elements);
}

redisReader* create_reader() {
  static redisReplyObjectFunctions bounded = [] {
    std::unique_ptr<redisReader, decltype(&redisReaderFree)> probe(redisReaderCreate(), &redisReaderFree);
    if (!probe) throw std::bad_alloc();
    redisReplyObjectFunctions functions = *probe->fn;
    hiredis_create_array = functions.createArray;
    functions.createArray = create_bounded_array;
    return functions;
  }();
  return redisReaderCreateWithFunctions(&bounded);
}

}  // namespace

std::string to_debug_string(const reply& r) {
  std::string out;
  render(out, r);
  return out;
}

void resp_reader::deleter::operator()(::redisReader* r) const noexcept { redisReaderFree(r); }

resp_reader::resp_reader() : r_(create_reader()) {
  if (!r_) throw std::bad_alloc();
}
resp_reader::~resp_reader() = default;
resp_reader::resp_reader(resp_reader&&) noexcept = default;
resp_reader& resp_reader::operator=(resp_reader&&) noexcept = default;

bool resp_reader::feed(std::string_view bytes) {
  if (bytes.empty()) return r_->err == 0;
  return redisReaderFeed(r_.get(), bytes.data(), bytes.size()) == REDIS_OK;
}

resp_reader::status resp_reader::next(reply& out) {
  void* raw = nullptr;
  if (redisReaderGetReply(r_.get(), &raw) != REDIS_OK) return status::protocol_error;
  if (raw == nullptr) return status::need_more;
  auto* rep = static_cast<redisReply*>(raw);
  out = convert(*rep);
  freeReplyObject(rep);
  return status::reply;
}

std::string resp_reader::error() const { return r_->err ? std::string(r_->errstr) : std::string(); }

void resp_reader::reset() {
  // A fresh reader is the only documented way to clear hiredis's error state and buffer.
  std::unique_ptr<::redisReader, deleter> fresh(create_reader());
  if (!fresh) throw std::bad_alloc();
  r_ = std::move(fresh);
}

void append_command(std::string& out, std::span<const std::string_view> args) {
  // Small commands (the common case) avoid heap arrays for argv.
  constexpr std::size_t inline_args = 16;
  const char* argv_inline[inline_args];
  std::size_t len_inline[inline_args];
  std::vector<const char*> argv_heap;
  std::vector<std::size_t> len_heap;
  const char** argv = argv_inline;
  std::size_t* lens = len_inline;
  if (args.size() > inline_args) {
    argv_heap.resize(args.size());
    len_heap.resize(args.size());
    argv = argv_heap.data();
    lens = len_heap.data();
  }
  for (std::size_t i = 0; i < args.size(); ++i) {
    argv[i] = args[i].data() ? args[i].data() : "";
    lens[i] = args[i].size();
  }
  char* cmd = nullptr;
  int n = redisFormatCommandArgv(&cmd, static_cast<int>(args.size()), argv, lens);
  if (n < 0 || cmd == nullptr) throw std::bad_alloc();
  out.append(cmd, static_cast<std::size_t>(n));
  redisFreeCommand(cmd);
}

}  // namespace chatrix::cluster::redis
