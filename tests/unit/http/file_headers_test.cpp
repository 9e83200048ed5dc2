// The pure rules of uploads and downloads: names, types and the Content-Disposition header.
#include "http/file_headers.hpp"

#include <gtest/gtest.h>

#include <string>

namespace chatrix::http {
namespace {

TEST(file_headers, names_are_1_to_255_bytes_of_utf8_without_controls_or_slash) {
  EXPECT_TRUE(valid_file_name("report.pdf"));
  EXPECT_TRUE(valid_file_name("r\xC3\xA9sum\xC3\xA9 \"final\" (2).txt"));
  EXPECT_TRUE(valid_file_name(std::string(255, 'n')));
  EXPECT_FALSE(valid_file_name(""));
  EXPECT_FALSE(valid_file_name(std::string(256, 'n')));
  EXPECT_FALSE(valid_file_name("a/b"));
  EXPECT_FALSE(valid_file_name("a\nb"));
  EXPECT_FALSE(valid_file_name(std::string("a\0b", 3)));
  EXPECT_FALSE(valid_file_name("a\x7F"));
  EXPECT_FALSE(valid_file_name("\xFF"));
  EXPECT_FALSE(valid_file_name("\xC3"));  // cut in the middle of a character
}

TEST(file_headers, a_media_type_is_kept_anything_else_is_octet_stream) {
  EXPECT_EQ(upload_type("application/pdf"), "application/pdf");
  EXPECT_EQ(upload_type("text/plain; charset=utf-8"), "text/plain; charset=utf-8");
  EXPECT_EQ(upload_type("image/svg+xml"), "image/svg+xml");
  EXPECT_EQ(upload_type(""), "application/octet-stream");
  EXPECT_EQ(upload_type("not a type"), "application/octet-stream");
  EXPECT_EQ(upload_type("text/"), "application/octet-stream");
  EXPECT_EQ(upload_type("/plain"), "application/octet-stream");
  EXPECT_EQ(upload_type("text/pl ain"), "application/octet-stream");
  EXPECT_EQ(upload_type("text/plain\x01"), "application/octet-stream");
  EXPECT_EQ(upload_type("text/plain; x=\xC3\xA9"), "application/octet-stream");
  EXPECT_EQ(upload_type("a/" + std::string(126, 'b')), "a/" + std::string(126, 'b'));
  EXPECT_EQ(upload_type("a/" + std::string(127, 'b')), "application/octet-stream");
}

TEST(file_headers, the_disposition_is_an_attachment_with_an_ascii_fallback_and_the_exact_name) {
  EXPECT_EQ(attachment_disposition("report.pdf"), "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf");
  EXPECT_EQ(attachment_disposition("r\xC3\xA9sum\xC3\xA9 \"1\"\\.txt"),
            "attachment; filename=\"r__sum__ _1__.txt\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%221%22%5C.txt");
  // Characters a header or a parameter would read as syntax are always encoded.
  EXPECT_EQ(attachment_disposition("a;b=c,d'e%f"),
            "attachment; filename=\"a;b=c,d'e%f\"; filename*=UTF-8''a%3Bb%3Dc%2Cd%27e%25f");
}

}  // namespace
}  // namespace chatrix::http
