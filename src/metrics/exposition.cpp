#include "metrics/exposition.hpp"

#include <charconv>
#include <system_error>

namespace chatrix::metrics {

namespace {

std::string escape(std::string_view text, bool quotes) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quotes) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

template <class Integer>
void append_integer(std::string& out, Integer value) {
  char buf[24];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  out.append(buf, end);
}

}  // namespace

std::string escape_label_value(std::string_view value) { return escape(value, true); }

std::string escape_help(std::string_view help) { return escape(help, false); }

std::string exposition::label(std::string_view key, std::string_view value) {
  std::string out(key);
  out += "=\"";
  out += escape_label_value(value);
  out += '"';
  return out;
}

void exposition::family(std::string_view name, std::string_view type, std::string_view help) {
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  out_ += escape_help(help);
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type;
  out_ += '\n';
}

void exposition::series(std::string_view name, std::string_view labels) {
  out_ += name;
  if (!labels.empty()) {
    out_ += '{';
    out_ += labels;
    out_ += '}';
  }
  out_ += ' ';
}

void exposition::sample(std::string_view name, std::string_view labels, std::int64_t value) {
  series(name, labels);
  append_integer(out_, value);
  out_ += '\n';
}

void exposition::sample(std::string_view name, std::string_view labels, std::uint64_t value) {
  series(name, labels);
  append_integer(out_, value);
  out_ += '\n';
}

void exposition::number(double value) {
  // Shortest round-trip digits in fixed notation: "0.00025", "2.5", "10" (Prometheus reads
  // any Go float syntax, people read this one).
  char buf[64];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::fixed);
  if (ec == std::errc()) {
    out_.append(buf, end);
  } else {
    const auto [sci_end, sci_ec] = std::to_chars(buf, buf + sizeof buf, value);
    out_.append(buf, sci_ec == std::errc() ? sci_end : buf);
  }
}

void exposition::histogram_samples(std::string_view name, std::string_view labels, const histogram::snapshot& h) {
  const std::string prefix = labels.empty() ? std::string() : std::string(labels) + ',';
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i <= h.bounds.size(); ++i) {
    cumulative += h.counts[i];
    out_ += name;
    out_ += "_bucket{";
    out_ += prefix;
    out_ += "le=\"";
    if (i < h.bounds.size()) {
      number(static_cast<double>(h.bounds[i]) / h.units_per_base);
    } else {
      out_ += "+Inf";
    }
    out_ += "\"} ";
    append_integer(out_, cumulative);
    out_ += '\n';
  }
  series(std::string(name) + "_sum", labels);
  number(static_cast<double>(h.sum) / h.units_per_base);
  out_ += '\n';
  // The +Inf bucket's count, so that _count and the last bucket always agree.
  sample(std::string(name) + "_count", labels, cumulative);
}

}  // namespace chatrix::metrics
