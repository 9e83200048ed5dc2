// The log line formats (core/log_format.hpp) and the fields that reach them (core/log.hpp):
// JSON lines that always parse, whatever bytes a client put in a field, and text lines that
// stay one line with their fields in front.
#include "core/log.hpp"
#include "core/log_format.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <memory>
#include <sstream>
#include <string>

namespace chatrix::log {
namespace {

namespace json = boost::json;

/// A logger writing into a string with the given formatter, made the default for the test.
class captured_log : public ::testing::Test {
 protected:
  void use(std::unique_ptr<spdlog::formatter> formatter) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_st>(out_);
    auto logger = std::make_shared<spdlog::logger>("", sink);
    logger->set_formatter(std::move(formatter));
    logger->set_level(spdlog::level::debug);
    previous_ = spdlog::default_logger();
    spdlog::set_default_logger(logger);
  }
  void TearDown() override {
    if (previous_) spdlog::set_default_logger(previous_);
  }
  std::string text() const { return out_.str(); }

  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> previous_;
};

TEST_F(captured_log, json_line_has_time_level_message_and_fields) {
  use(json_formatter());
  const std::array<field, 3> fields{field{"conn", "1a2b"}, field{"addr", "203.0.113.5"}, field{"status", "200", true}};
  write(spdlog::level::warn, fields, "user {}: disconnected", 5);
  const auto line = text();
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "one line";
  const auto v = json::parse(line).as_object();
  EXPECT_EQ(v.at("level").as_string(), "warning");
  EXPECT_EQ(v.at("msg").as_string(), "user 5: disconnected");
  EXPECT_EQ(v.at("conn").as_string(), "1a2b");
  EXPECT_EQ(v.at("addr").as_string(), "203.0.113.5");
  EXPECT_EQ(v.at("status").as_int64(), 200) << "a number field is a JSON number";
  const std::string ts(v.at("ts").as_string());
  // 2026-12-07T10:15:02.123Z
  ASSERT_EQ(ts.size(), 24u) << ts;
  EXPECT_EQ(ts[10], 'T');
  EXPECT_EQ(ts[19], '.');
  EXPECT_EQ(ts.back(), 'Z');
}

TEST_F(captured_log, json_lines_parse_whatever_bytes_the_fields_and_message_hold) {
  use(json_formatter());
  const std::string hostile = std::string("a\"b\\c\nd\te\x01 \xff\xfe end \xc3\xa9 \xed\xa0\x80 ") + '\0' + "z";
  const std::array<field, 1> fields{field{"user_agent", hostile}};
  write(spdlog::level::info, fields, "agent {}", hostile);
  const auto line = text();
  EXPECT_EQ(line.find('\n'), line.size() - 1) << line;
  boost::system::error_code ec;
  const auto v = json::parse(line, ec);
  ASSERT_FALSE(ec) << line;
  const std::string agent(v.at("user_agent").as_string());
  EXPECT_EQ(agent, std::string("a\"b\\c\nd\te\x01 \xef\xbf\xbd\xef\xbf\xbd end \xc3\xa9 \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd ") +
                       '\0' + "z")
      << "valid UTF-8 kept, every invalid byte one U+FFFD";
  EXPECT_EQ(std::string(v.at("msg").as_string()), "agent " + agent);
}

TEST_F(captured_log, text_line_puts_the_fields_before_the_message) {
  use(text_formatter());
  const std::array<field, 4> fields{field{"conn", "1a2b"}, field{"addr", "203.0.113.5"},
                                    field{"user_agent", "Mozilla/5.0 (X11) \"q\""}, field{"empty", ""}};
  write(spdlog::level::info, fields, "hello");
  const auto line = text();
  EXPECT_NE(line.find("] [info] conn=1a2b addr=203.0.113.5 user_agent=\"Mozilla/5.0 (X11) \\\"q\\\"\" empty=\"\" hello\n"),
            std::string::npos)
      << line;
}

TEST_F(captured_log, text_fields_never_break_the_line) {
  use(text_formatter());
  const std::array<field, 1> fields{field{"path", "/a\nb\rc"}};
  write(spdlog::level::info, fields, "x");
  EXPECT_NE(text().find("path=/a?b?c x\n"), std::string::npos) << text();
}

TEST_F(captured_log, fields_belong_to_their_line_only) {
  use(json_formatter());
  const auto conn = connection(0x52b8655600000003ULL, "127.0.0.1");
  write(spdlog::level::info, conn, "with");
  spdlog::info("without");
  EXPECT_TRUE(current_fields().empty());
  std::istringstream lines(text());
  std::string first, second;
  std::getline(lines, first);
  std::getline(lines, second);
  const auto with = json::parse(first).as_object();
  EXPECT_EQ(with.at("conn").as_string(), "52b8655600000003");
  EXPECT_EQ(with.at("addr").as_string(), "127.0.0.1");
  const auto without = json::parse(second).as_object();
  EXPECT_FALSE(without.contains("conn")) << second;
  EXPECT_EQ(without.size(), 3u) << second;
}

TEST_F(captured_log, lines_below_the_level_are_not_written) {
  use(json_formatter());
  spdlog::default_logger()->set_level(spdlog::level::warn);
  const std::array<field, 1> fields{field{"k", "v"}};
  write(spdlog::level::info, fields, "quiet");
  EXPECT_TRUE(text().empty());
}

}  // namespace
}  // namespace chatrix::log
