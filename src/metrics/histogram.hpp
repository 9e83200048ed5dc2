// A Prometheus histogram for the hot path: fixed buckets of relaxed atomic counters, no lock
// and no allocation per observation. Observations are integers in the histogram's own unit
// (nanoseconds for durations, items for sizes), so the sum is an integer fetch_add too; the
// exposition converts them to the base unit (seconds) when rendered.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>

namespace chatrix::metrics {

/// Bucket upper bounds (inclusive) in nanoseconds: 100 µs to 10 s, 1-2.5-5 steps. A message
/// on an idle node is stored in about a millisecond (one fsync), a loaded one in tens; the
/// top buckets catch the stalls worth an alert.
inline constexpr std::array<std::uint64_t, 16> latency_bounds_ns{
    100'000,     250'000,     500'000,       1'000'000,     2'500'000,     5'000'000,
    10'000'000,  25'000'000,  50'000'000,    100'000'000,   250'000'000,   500'000'000,
    1'000'000'000, 2'500'000'000, 5'000'000'000, 10'000'000'000};

/// Bucket upper bounds for batch sizes: powers of two up to 1024, the stores' largest batch.
inline constexpr std::array<std::uint64_t, 11> batch_bounds{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};

/// Thread-safety: observe() and read() from any thread. A read taken during observations may
/// see a bucket count and a sum from slightly different moments; Prometheus tolerates that.
///
/// Aligned to a cache line of its own: the writer thread and the I/O thread observe into
/// different histograms, which must not share a line with each other or with the counters.
class alignas(64) histogram {
 public:
  static constexpr std::size_t max_buckets = 16;

  /// `bounds`: ascending upper bounds in the observation unit (at most max_buckets; the +Inf
  /// bucket is implied). `units_per_base`: observation units in one exposed base unit (1e9
  /// for nanoseconds exposed as seconds; a division by it is exact for round bounds, where
  /// a multiplication by 1e-9 would print 0.00010000000000000002).
  constexpr histogram(std::span<const std::uint64_t> bounds, double units_per_base) noexcept
      : bounds_(bounds.first(bounds.size() < max_buckets ? bounds.size() : max_buckets)), units_(units_per_base) {}

  histogram(const histogram&) = delete;
  histogram& operator=(const histogram&) = delete;

  void observe(std::uint64_t value) noexcept {
    // A linear scan: at most 16 compares of one cache line, cheaper than a binary search's
    // unpredictable branches at this size.
    std::size_t i = 0;
    while (i < bounds_.size() && value > bounds_[i]) ++i;
    counts_[i].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(value, std::memory_order_relaxed);
  }

  void observe(std::chrono::steady_clock::duration elapsed) noexcept {
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count();
    observe(ns > 0 ? static_cast<std::uint64_t>(ns) : 0);
  }

  /// The time since `since`.
  void observe_since(std::chrono::steady_clock::time_point since) noexcept {
    observe(std::chrono::steady_clock::now() - since);
  }

  /// What the exposition needs: per-bucket (not cumulative) counts, the +Inf bucket last.
  struct snapshot {
    std::span<const std::uint64_t> bounds;
    std::array<std::uint64_t, max_buckets + 1> counts{};
    std::uint64_t sum = 0;
    double units_per_base = 1;

    std::uint64_t count() const noexcept {
      std::uint64_t n = 0;
      for (std::size_t i = 0; i <= bounds.size(); ++i) n += counts[i];
      return n;
    }
  };

  snapshot read() const noexcept {
    snapshot s;
    s.bounds = bounds_;
    s.units_per_base = units_;
    for (std::size_t i = 0; i <= bounds_.size(); ++i) s.counts[i] = counts_[i].load(std::memory_order_relaxed);
    s.sum = sum_.load(std::memory_order_relaxed);
    return s;
  }

 private:
  std::span<const std::uint64_t> bounds_;
  double units_;
  std::array<std::atomic<std::uint64_t>, max_buckets + 1> counts_{};
  std::atomic<std::uint64_t> sum_{0};
};

/// A histogram of durations, exposed in seconds.
struct latency_histogram : histogram {
  constexpr latency_histogram() noexcept : histogram(latency_bounds_ns, 1e9) {}
};

/// A histogram of batch sizes (items per batch).
struct batch_histogram : histogram {
  constexpr batch_histogram() noexcept : histogram(batch_bounds, 1) {}
};

}  // namespace chatrix::metrics
