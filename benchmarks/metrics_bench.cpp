// The metrics' share of a chat message's hot path: a histogram observation, the clock read
// that ends a measured interval, and a relaxed counter or gauge update. docs/operations.md
// ("Metrics") adds them up per message.
#include "metrics/metrics.hpp"

#include <benchmark/benchmark.h>

#include <chrono>

namespace {

using chatrix::metrics::latency_histogram;
using chatrix::metrics::server_metrics;

void BM_steady_clock_now(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(std::chrono::steady_clock::now());
}
BENCHMARK(BM_steady_clock_now);

void BM_histogram_observe(benchmark::State& state) {
  latency_histogram h;
  // Spread over the buckets a loaded node sees (0.5 ms .. 40 ms), so the scan length varies.
  std::uint64_t ns = 500'000;
  for (auto _ : state) {
    h.observe(ns);
    ns = ns < 40'000'000 ? ns * 3 / 2 : 500'000;
  }
  benchmark::DoNotOptimize(h.read().sum);
}
BENCHMARK(BM_histogram_observe);

void BM_histogram_observe_since(benchmark::State& state) {
  latency_histogram h;
  const auto start = std::chrono::steady_clock::now();
  for (auto _ : state) h.observe_since(start);
  benchmark::DoNotOptimize(h.read().sum);
}
BENCHMARK(BM_histogram_observe_since);

void BM_gauge_add(benchmark::State& state) {
  server_metrics m;
  for (auto _ : state) m.socket_queued_bytes.fetch_add(100, std::memory_order_relaxed);
  benchmark::DoNotOptimize(m.socket_queued_bytes.load());
}
BENCHMARK(BM_gauge_add);

/// What one message adds on a single node: the clock read when the TEXT is taken, the stored
/// and delivered observations (each with its clock read), the write queue's depth noted at
/// enqueue, and the socket byte gauge for the DELIVERED and the TEXT frame (queued, written).
void BM_per_message(benchmark::State& state) {
  server_metrics m;
  for (auto _ : state) {
    const auto taken = std::chrono::steady_clock::now();
    m.store.queued_writes.store(1, std::memory_order_relaxed);
    m.send_stored.observe_since(taken);
    m.send_delivered.observe_since(taken);
    for (int frame = 0; frame < 2; ++frame) {
      m.socket_queued_bytes.fetch_add(120, std::memory_order_relaxed);
      m.socket_queued_bytes.fetch_sub(120, std::memory_order_relaxed);
    }
  }
  benchmark::DoNotOptimize(m.send_stored.read().sum);
}
BENCHMARK(BM_per_message);

}  // namespace
