// The Redis bus's share of presence (docs/performance.md, "What presence costs"): encoding a
// turn's presence updates into broadcast payloads, decoding them on every other node, and
// turning a node's snapshot into changes. Per update, for batches of 1 to 10,000.
#include "cluster/redis/event_codec.hpp"
#include "cluster/redis/remote_presence.hpp"

#include <benchmark/benchmark.h>

#include <string>
#include <vector>

namespace {

using namespace chatrix::cluster;
using namespace chatrix::cluster::redis;

constexpr chatrix::unix_ms now_ms = 1'765'100'000'000;

std::vector<std::string> encode_batch(std::int64_t n) {
  broadcast_encoder enc("0123456789abcdef", 512 * 1024);
  for (std::int64_t u = 1; u <= n; ++u) enc.presence({100'000 + u, u % 2 == 0, now_ms + u});
  return enc.take();
}

void BM_encode_presence_batch(benchmark::State& state) {
  std::size_t bytes = 0;
  for (auto _ : state) {
    auto payloads = encode_batch(state.range(0));
    bytes = 0;
    for (const auto& p : payloads) bytes += p.size();
    benchmark::DoNotOptimize(payloads);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.counters["bytes_per_update"] = static_cast<double>(bytes) / static_cast<double>(state.range(0));
}
BENCHMARK(BM_encode_presence_batch)->Arg(1)->Arg(100)->Arg(10'000);

void BM_decode_presence_batch(benchmark::State& state) {
  const auto payloads = encode_batch(state.range(0));
  for (auto _ : state) {
    for (const auto& p : payloads) {
      auto d = decode_broadcast(p);
      benchmark::DoNotOptimize(d);
    }
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_decode_presence_batch)->Arg(1)->Arg(100)->Arg(10'000);

// A node rejoins: its snapshot of n users, half of them unchanged, a quarter gone, a quarter new.
void BM_snapshot_diff(benchmark::State& state) {
  const auto n = state.range(0);
  for (auto _ : state) {
    state.PauseTiming();
    remote_presence rp;
    for (std::int64_t u = 0; u < n; ++u) rp.apply("b", {u, true, now_ms});
    state.ResumeTiming();
    rp.begin_snapshot("b");
    for (std::int64_t u = n / 4; u < n + n / 4; ++u) rp.add_to_snapshot("b", {u, true, now_ms});
    auto changes = rp.end_snapshot("b", now_ms);
    benchmark::DoNotOptimize(changes);
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_snapshot_diff)->Arg(10'000);

}  // namespace
