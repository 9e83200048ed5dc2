// The Prometheus text exposition format, version 0.0.4: HELP and TYPE lines per family,
// samples with escaped label values, histograms as cumulative _bucket series plus _sum and
// _count. Pure: it writes into a string and knows nothing of the server's series.
#pragma once

#include "metrics/histogram.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace chatrix::metrics {

/// A label value with `\`, `"` and newlines escaped as the format requires.
std::string escape_label_value(std::string_view value);

/// A HELP text with `\` and newlines escaped (quotes stay as they are there).
std::string escape_help(std::string_view help);

/// Writes one exposition. Each family is begun once (HELP, TYPE), then its samples follow.
class exposition {
 public:
  explicit exposition(std::string& out) : out_(out) {}

  /// `type`: "counter", "gauge" or "histogram".
  void family(std::string_view name, std::string_view type, std::string_view help);
  /// `labels`: empty, or `key="value"` pairs already escaped (see label()).
  void sample(std::string_view name, std::string_view labels, std::int64_t value);
  void sample(std::string_view name, std::string_view labels, std::uint64_t value);
  /// A histogram's _bucket (cumulative, le="+Inf" last), _sum and _count series.
  void histogram_samples(std::string_view name, std::string_view labels, const histogram::snapshot& h);

  /// One label pair, `key="value"`, with the value escaped.
  static std::string label(std::string_view key, std::string_view value);

 private:
  /// `name{labels} ` (the braces only with labels).
  void series(std::string_view name, std::string_view labels);
  void number(double value);

  std::string& out_;
};

}  // namespace chatrix::metrics
