// parse_dotenv: the .env dialect (comments, export, quotes, inline comments) and its errors.
#include <gtest/gtest.h>

#include <string>

#include "config/config.hpp"

namespace {

using chatrix::config::config_error;
using chatrix::config::parse_dotenv;

std::string error_of(const std::string& text) {
  try {
    parse_dotenv(text, "conf/.env");
  } catch (const config_error& e) {
    return e.what();
  }
  ADD_FAILURE() << "accepted: " << text;
  return {};
}

TEST(Dotenv, PlainPairsCommentsAndBlankLines) {
  const auto m = parse_dotenv(
      "# a comment\n\nSERVER_PORT=:6969\n   \n  # indented comment\nDB_CONNECTION_URL=\n"
      "REDISADDR=localhost:6379\n",
      ".env");
  EXPECT_EQ(m.size(), 3u);
  EXPECT_EQ(m.at("SERVER_PORT"), ":6969");
  EXPECT_EQ(m.at("DB_CONNECTION_URL"), "");
  EXPECT_EQ(m.at("REDISADDR"), "localhost:6379");
}

TEST(Dotenv, SeedReadmeExample) {
  const auto m = parse_dotenv(
      "SERVER_HOST=localhost:6969\nSERVER_PORT=:6969\nDB_CONNECTION_URL=\n"
      "REDISADDR=localhost:6379\n",
      ".env");
  EXPECT_EQ(m.at("SERVER_HOST"), "localhost:6969");
  EXPECT_EQ(m.size(), 4u);
}

TEST(Dotenv, WhitespaceAroundKeyAndValue) {
  const auto m = parse_dotenv("  KEY  =  value with spaces  \n", ".env");
  EXPECT_EQ(m.at("KEY"), "value with spaces");
}

TEST(Dotenv, Export) {
  const auto m = parse_dotenv("export JWT_TTL=24h\nexport\tLOG_LEVEL=debug\nexported=1\n", ".env");
  EXPECT_EQ(m.at("JWT_TTL"), "24h");
  EXPECT_EQ(m.at("LOG_LEVEL"), "debug");
  EXPECT_EQ(m.at("exported"), "1");  // a key that merely starts with "export"
}

TEST(Dotenv, DoubleQuotes) {
  const auto m = parse_dotenv(R"(A="hello # not a comment"
B="with \"escaped\" quotes and \\ backslash"
C="line1\nline2\ttab"
D="  kept spaces  "  # trailing comment
E=""
F="a=b"
G="\$HOME and \q"
)",
                              ".env");
  EXPECT_EQ(m.at("A"), "hello # not a comment");
  EXPECT_EQ(m.at("B"), R"(with "escaped" quotes and \ backslash)");
  EXPECT_EQ(m.at("C"), "line1\nline2\ttab");
  EXPECT_EQ(m.at("D"), "  kept spaces  ");
  EXPECT_EQ(m.at("E"), "");
  EXPECT_EQ(m.at("F"), "a=b");
  EXPECT_EQ(m.at("G"), "$HOME and \\q");  // unknown escapes are kept as written
}

TEST(Dotenv, SingleQuotesAreLiteral) {
  const auto m = parse_dotenv(R"(A='raw \n "text" # here'
B='' # empty
)",
                              ".env");
  EXPECT_EQ(m.at("A"), R"(raw \n "text" # here)");
  EXPECT_EQ(m.at("B"), "");
}

TEST(Dotenv, UnquotedInlineComments) {
  const auto m = parse_dotenv("A=value # comment\nB=value#not-a-comment\nC= # only a comment\nD=a=b=c\n", ".env");
  EXPECT_EQ(m.at("A"), "value");
  EXPECT_EQ(m.at("B"), "value#not-a-comment");
  EXPECT_EQ(m.at("C"), "");
  EXPECT_EQ(m.at("D"), "a=b=c");
}

TEST(Dotenv, WindowsLineEndingsBomAndNoFinalNewline) {
  const auto m = parse_dotenv("\xEF\xBB\xBFSERVER_PORT=1234\r\nLOG_LEVEL=warn", ".env");
  EXPECT_EQ(m.at("SERVER_PORT"), "1234");
  EXPECT_EQ(m.at("LOG_LEVEL"), "warn");
}

TEST(Dotenv, LastDuplicateWins) {
  const auto m = parse_dotenv("A=1\nA=2\n", ".env");
  EXPECT_EQ(m.at("A"), "2");
}

TEST(Dotenv, EmptyText) { EXPECT_TRUE(parse_dotenv("", ".env").empty()); }

TEST(Dotenv, MalformedLinesNameFileAndLine) {
  EXPECT_EQ(error_of("A=1\n# ok\nnot a pair\n"), "conf/.env:3: malformed line (expected KEY=VALUE)");
  EXPECT_TRUE(error_of("1KEY=x").starts_with("conf/.env:1: malformed line")) << error_of("1KEY=x");
  EXPECT_TRUE(error_of("\nMY KEY=x").starts_with("conf/.env:2: malformed line"));
  EXPECT_TRUE(error_of("=x").starts_with("conf/.env:1: malformed line"));
  EXPECT_TRUE(error_of("KEY-1=x").starts_with("conf/.env:1: malformed line"));
  EXPECT_EQ(error_of("A=\"open\nB=2\n"), "conf/.env:1: unterminated double quote");
  EXPECT_EQ(error_of("A=ok\nB='open\n"), "conf/.env:2: unterminated single quote");
  EXPECT_EQ(error_of("A=\"x\" trailing\n"), "conf/.env:1: unexpected text after the closing quote");
}

}  // namespace
