// chatrix-cli's file naming without a server: upload types by extension, the served name of a
// Content-Disposition, and the local name a download may take.
#include "file_names.hpp"

#include <gtest/gtest.h>

namespace chatrix::cli {
namespace {

TEST(cli_file_names, upload_types_by_extension_in_any_case) {
  EXPECT_EQ(media_type_for("notes.txt"), "text/plain");
  EXPECT_EQ(media_type_for("/tmp/Photo.JPG"), "image/jpeg");
  EXPECT_EQ(media_type_for("archive.tar.gz"), "application/octet-stream");
  EXPECT_EQ(media_type_for("README"), "application/octet-stream");
}

TEST(cli_file_names, served_names_prefer_the_utf8_form) {
  EXPECT_EQ(attachment_file_name("attachment; filename*=UTF-8''r%C3%A9sum%C3%A9%20(1).pdf"), "résumé (1).pdf");
  EXPECT_EQ(attachment_file_name("attachment; filename=\"plain.txt\"; filename*=utf-8''fancy%20name.txt"),
            "fancy name.txt");
  EXPECT_EQ(attachment_file_name("attachment; filename=plain.txt"), "plain.txt");
  EXPECT_EQ(attachment_file_name("attachment; filename*=UTF-8''broken%zz; filename=\"fallback\""), "fallback");
  EXPECT_EQ(attachment_file_name("attachment"), "");
  EXPECT_EQ(attachment_file_name(""), "");
}

TEST(cli_file_names, local_names_stay_in_the_current_directory) {
  EXPECT_EQ(local_file_name("notes.txt", "id"), "notes.txt");
  EXPECT_EQ(local_file_name("../../etc/passwd", "id"), "passwd");
  EXPECT_EQ(local_file_name("C:\\Users\\x\\evil.bat", "id"), "evil.bat");
  EXPECT_EQ(local_file_name("a\nb\x01.txt", "id"), "ab.txt");
  for (const char* unusable : {"", ".", "..", "dir/", "\x01"}) EXPECT_EQ(local_file_name(unusable, "id"), "id") << unusable;
}

}  // namespace
}  // namespace chatrix::cli
