// How log lines look (LOG_FORMAT): "text", spdlog's usual line with a line's fields
// (core/log.hpp) before the message, or "json", one object a line for log shippers.
#pragma once

#include <spdlog/formatter.h>

#include <memory>
#include <string_view>

namespace chatrix::log {

/// [2026-12-07 10:15:02.123] [info] conn=1a2b addr=203.0.113.5 user 5: disconnected, ...
/// A field's value is quoted when it holds a space, a quote or '=' (or is empty), and control
/// characters become '?', so that a client's bytes never break a line.
std::unique_ptr<spdlog::formatter> text_formatter();

/// {"ts":"2026-12-07T10:15:02.123Z","level":"info","msg":"user 5: disconnected, ...",
///  "conn":"1a2b","addr":"203.0.113.5"}: UTC time with milliseconds, spdlog's level names,
/// then the fields (numbers bare). Bytes that are not UTF-8 become U+FFFD, so every line
/// parses.
std::unique_ptr<spdlog::formatter> json_formatter();

/// Installs "text" or "json" on every logger (spdlog::set_formatter). Call before the
/// first line; anything else than "json" is text.
void use_format(std::string_view format);

}  // namespace chatrix::log
