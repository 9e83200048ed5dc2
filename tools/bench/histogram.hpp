// A small HDR-style log-linear latency histogram: fixed memory (~30 KiB), ~1.6 % relative
// precision, O(1) record. Lets the load generator keep every sample without per-sample vectors.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

namespace chatrix::bench {

/// Values are unsigned integers (the bench records nanoseconds). Values below 2^sub_bits are
/// exact; above, each power of two is split into 2^(sub_bits-1) equal buckets, so a bucket's
/// width is at most 1/64 of its value. Reported values are bucket midpoints (exact max kept).
class histogram {
 public:
  static constexpr int sub_bits = 7;                      // 128 exact values, then 64 per octave
  static constexpr std::uint64_t linear_limit = 1u << sub_bits;
  static constexpr int half = 1 << (sub_bits - 1);
  static constexpr std::size_t bucket_count = linear_limit + (64 - sub_bits) * half;

  void record(std::uint64_t v) noexcept {
    ++counts_[index_of(v)];
    ++total_;
    max_ = std::max(max_, v);
    min_ = std::min(min_, v);
  }

  void merge(const histogram& other) noexcept {
    for (std::size_t i = 0; i < bucket_count; ++i) counts_[i] += other.counts_[i];
    total_ += other.total_;
    max_ = std::max(max_, other.max_);
    min_ = std::min(min_, other.min_);
  }

  std::uint64_t count() const noexcept { return total_; }
  std::uint64_t max() const noexcept { return total_ ? max_ : 0; }
  std::uint64_t min() const noexcept { return total_ ? min_ : 0; }

  /// The value at quantile q (0..1): the smallest recorded bucket whose cumulative count
  /// reaches ceil(q * count). 0 when empty.
  std::uint64_t quantile(double q) const noexcept {
    if (total_ == 0) return 0;
    q = std::clamp(q, 0.0, 1.0);
    auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(total_)));
    rank = std::max<std::uint64_t>(rank, 1);
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < bucket_count; ++i) {
      seen += counts_[i];
      if (seen >= rank) return std::min(midpoint_of(i), max_);
    }
    return max_;
  }

  static std::size_t index_of(std::uint64_t v) noexcept {
    if (v < linear_limit) return static_cast<std::size_t>(v);
    const int e = 63 - std::countl_zero(v);                 // floor(log2 v), >= sub_bits
    const auto sub = (v >> (e - (sub_bits - 1))) & (half - 1);  // the next 6 bits below the top bit
    return linear_limit + static_cast<std::size_t>(e - sub_bits) * half + static_cast<std::size_t>(sub);
  }

  /// The lowest value mapped to bucket i, and the bucket's midpoint.
  static std::uint64_t lowest_of(std::size_t i) noexcept {
    if (i < linear_limit) return i;
    const std::size_t k = i - linear_limit;
    const int e = static_cast<int>(k / half) + sub_bits;
    const std::uint64_t sub = k % half;
    return (std::uint64_t{1} << e) | (sub << (e - (sub_bits - 1)));
  }
  static std::uint64_t midpoint_of(std::size_t i) noexcept {
    if (i < linear_limit) return i;
    const int e = static_cast<int>((i - linear_limit) / half) + sub_bits;
    const std::uint64_t width = std::uint64_t{1} << (e - (sub_bits - 1));
    return lowest_of(i) + width / 2;
  }

 private:
  std::array<std::uint64_t, bucket_count> counts_{};
  std::uint64_t total_ = 0;
  std::uint64_t max_ = 0;
  std::uint64_t min_ = std::numeric_limits<std::uint64_t>::max();
};

}  // namespace chatrix::bench
