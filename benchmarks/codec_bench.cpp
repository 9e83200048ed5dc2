// Micro-benchmarks of src/protocol/codec: decoding client frames and encoding the frames the
// server writes for every message (TEXT to the recipient, DELIVERED to the sender).
#include "protocol/codec.hpp"

#include <benchmark/benchmark.h>
#include <boost/json.hpp>

#include <string>

namespace {

using namespace chatrix;
namespace proto = chatrix::protocol;

// A TEXT frame as chatrix-bench sends it: 100 bytes of content and a numeric mark.
const std::string text_frame =
    R"({"type":0,"body":{"to":"bench_r_12","content":"r123456 s12 n345 )" + std::string(83, 'x') + R"(","mark":345}})";

std::string mark_read_frame(int ids) {
  std::string f = R"({"type":2,"body":{"to":"bench_s_12","message_ids":[)";
  for (int i = 0; i < ids; ++i) {
    if (i) f += ',';
    f += std::to_string(1'000'000 + i);
  }
  return f + "]}}";
}

void BM_decode_text(benchmark::State& state) {
  const proto::decode_limits limits;
  for (auto _ : state) {
    auto r = proto::decode(text_frame, limits);
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text_frame.size()));
}
BENCHMARK(BM_decode_text);

void BM_decode_mark_read(benchmark::State& state) {
  const auto frame = mark_read_frame(static_cast<int>(state.range(0)));
  const proto::decode_limits limits;
  for (auto _ : state) {
    auto r = proto::decode(frame, limits);
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * frame.size()));
}
BENCHMARK(BM_decode_mark_read)->Arg(1)->Arg(50)->Arg(1000);

// Baseline: what a generic Boost.JSON DOM parse of the same TEXT frame costs (default allocator),
// and the same into a reused stack buffer, to see how much the codec adds on top of parsing.
void BM_json_parse_baseline(benchmark::State& state) {
  for (auto _ : state) {
    auto v = boost::json::parse(text_frame);
    benchmark::DoNotOptimize(v);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text_frame.size()));
}
BENCHMARK(BM_json_parse_baseline);

void BM_json_parse_stack_buffer(benchmark::State& state) {
  unsigned char buffer[4096];
  for (auto _ : state) {
    boost::json::monotonic_resource mr(buffer, sizeof buffer);
    auto v = boost::json::parse(text_frame, &mr);
    benchmark::DoNotOptimize(v);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text_frame.size()));
}
BENCHMARK(BM_json_parse_stack_buffer);

message sample_message(std::size_t content_bytes) {
  message m;
  m.id = 123'456'789;
  m.conversation = 4242;
  m.seq = 98'765;
  m.sender = 17;
  m.recipient = 18;
  m.content = "r123456 s12 n345 " + std::string(content_bytes > 17 ? content_bytes - 17 : 0, 'x');
  m.created_at = 1'795'000'000'123;
  return m;
}

void BM_encode_text(benchmark::State& state) {
  const auto m = sample_message(static_cast<std::size_t>(state.range(0)));
  const user from{17, "bench_s_12", "bench_s_12"};
  const user to{18, "bench_r_12", "bench_r_12"};
  std::size_t bytes = 0;
  for (auto _ : state) {
    auto s = proto::encode_text(proto::message_view{m, from, to});
    bytes += s.size();
    benchmark::DoNotOptimize(s);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}
BENCHMARK(BM_encode_text)->Arg(100)->Arg(1000);

void BM_encode_delivered(benchmark::State& state) {
  const auto m = sample_message(100);
  const std::optional<std::string> mark{"345"};
  for (auto _ : state) {
    auto s = proto::encode_delivered(m, mark, false);
    benchmark::DoNotOptimize(s);
  }
}
BENCHMARK(BM_encode_delivered);

}  // namespace
