// Request targets as the API routes read them: segments and query parameters, decoded once.
#include "http/target.hpp"

#include <gtest/gtest.h>

namespace chatrix::http {
namespace {

TEST(target, segments_and_parameters_are_percent_decoded) {
  const auto t = parse_target("/v1/files/a%20b?name=r%C3%A9sum%C3%A9.txt&flag&x=1&x=2");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->segments, (std::vector<std::string>{"v1", "files", "a b"}));
  ASSERT_NE(t->param("name"), nullptr);
  EXPECT_EQ(*t->param("name"), "r\xC3\xA9sum\xC3\xA9.txt");
  ASSERT_NE(t->param("flag"), nullptr);
  EXPECT_EQ(*t->param("flag"), "");
  EXPECT_EQ(*t->param("x"), "1");  // the first wins
  EXPECT_EQ(t->param("missing"), nullptr);
  EXPECT_FALSE(parse_target("http://host/x"));
  EXPECT_FALSE(parse_target("no-slash"));
}

TEST(target, numbers_are_checked_against_their_range) {
  const auto t = parse_target("/x?limit=20&zero=0&big=99999999999999999999&neg=-1&word=ten&id=7&sp=1%20");
  ASSERT_TRUE(t);
  EXPECT_EQ(*t->int_param("limit", 1, 200, 50), 20);
  EXPECT_EQ(*t->int_param("absent", 1, 200, 50), 50);
  EXPECT_FALSE(t->int_param("zero", 1, 200, 50));
  EXPECT_FALSE(t->int_param("big", 1, 200, 50));
  EXPECT_FALSE(t->int_param("word", 1, 200, 50));
  EXPECT_FALSE(t->int_param("sp", 1, 200, 50));
  EXPECT_EQ(t->int_param("neg", 1, 200, 50).error().code, errc::invalid_field);
  EXPECT_EQ(**t->id_param("id"), 7);
  EXPECT_FALSE(*t->id_param("absent"));
  EXPECT_FALSE(t->id_param("neg"));
}

TEST(target, route_paths_match_one_segment_per_parameter) {
  EXPECT_TRUE(path_matches("/v1/files/{id}", "/v1/files/abc"));
  EXPECT_FALSE(path_matches("/v1/files/{id}", "/v1/files/"));
  EXPECT_FALSE(path_matches("/v1/files/{id}", "/v1/files"));
  EXPECT_FALSE(path_matches("/v1/files/{id}", "/v1/files/a/b"));
  EXPECT_TRUE(path_matches("/v1/conversations/{chat_id}/messages", "/v1/conversations/7/messages"));
  EXPECT_FALSE(path_matches("/v1/conversations/{chat_id}/messages", "/v1/conversations/7/other"));
  EXPECT_FALSE(path_matches("/v1/conversations/{chat_id}/messages", "/v1/conversations//messages"));
  EXPECT_TRUE(path_matches("/v1/me", "/v1/me"));
  EXPECT_FALSE(path_matches("/v1/me", "/v1/me/"));
}

}  // namespace
}  // namespace chatrix::http
