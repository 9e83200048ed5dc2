// Files on the real server: POST /v1/files streamed in (Content-Length and chunked bodies),
// GET and HEAD /v1/files/{id} streamed out with the headers that keep a browser from running
// them, who may download (the uploader, the people of a conversation where it was sent) and
// the limits (FILE_MAX_BYTES, FILE_UPLOAD_LIMIT, STORAGE_QUOTA).
#include "support/chat_fixture.hpp"

#include <random>

namespace chatrix::test {
namespace {

/// `size` bytes of every value, in no pattern a chunking bug could hide in.
std::string random_bytes(std::size_t size, unsigned seed = 7) {
  std::mt19937 gen(seed);
  std::string out(size, '\0');
  for (auto& c : out) c = static_cast<char>(gen() & 0xFF);
  return out;
}

/// A raw HTTP answer split into status, headers (as text) and body.
struct raw_answer {
  int status = 0;
  std::string head;
  std::string body;
};

raw_answer split_answer(const std::string& raw) {
  raw_answer out;
  const auto end = raw.find("\r\n\r\n");
  if (raw.size() < 12 || end == std::string::npos) throw std::runtime_error("no HTTP answer: " + raw.substr(0, 200));
  out.status = std::stoi(raw.substr(9, 3));
  out.head = raw.substr(0, end);
  out.body = raw.substr(end + 4);
  return out;
}

class file_api : public chat_test {
 protected:
  http_response upload(const test_user& as, const std::string& name_param, const std::string& bytes,
                       const std::string& type = "application/pdf") {
    return http_request(port(), "POST", "/v1/files" + name_param, bytes,
                        {{"Authorization", "Bearer " + as.token}, {"Content-Type", type}});
  }
  /// Uploads with Transfer-Encoding: chunked, in pieces of `piece` bytes.
  raw_answer upload_chunked(const test_user& as, const std::string& name, const std::string& bytes,
                            std::size_t piece = 64 * 1024) {
    std::string req = "POST /v1/files?name=" + name + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " +
                      as.token + "\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    for (std::size_t at = 0; at < bytes.size(); at += piece) {
      const auto part = bytes.substr(at, piece);
      char size_line[32];
      std::snprintf(size_line, sizeof size_line, "%zx\r\n", part.size());
      req += size_line + part + "\r\n";
    }
    req += "0\r\n\r\n";
    return split_answer(raw_tcp_exchange(port(), req, 20s));
  }
  http_response download(const test_user& as, const std::string& id, const std::string& method = "GET") {
    return http_request(port(), method, "/v1/files/" + id, "", {{"Authorization", "Bearer " + as.token}});
  }
  /// Uploads and returns the file's JSON, failing unless it is 201.
  json::value uploaded(const test_user& as, const std::string& bytes, const std::string& name = "report.pdf") {
    const auto r = upload(as, "?name=" + name, bytes);
    EXPECT_EQ(r.status, 201) << r.body;
    return r.json();
  }
  static std::string code_of(const http_response& r, int status) {
    EXPECT_EQ(r.status, status) << r.body;
    return str_field(r.json(), "code");
  }
};

TEST_F(file_api, a_content_length_upload_comes_back_identical_with_the_download_headers) {
  const auto alice = make_user("alice");
  const auto bytes = random_bytes(3 * 1024 * 1024 + 17);
  const auto file = uploaded(alice, bytes);
  const auto id = str_field(file, "id");
  EXPECT_EQ(id.size(), 32u) << id;  // 128 random bits, hex
  EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos) << id;
  EXPECT_EQ(str_field(file, "name"), "report.pdf");
  EXPECT_EQ(str_field(file, "type"), "application/pdf");
  EXPECT_EQ(int_field(file, "size"), static_cast<std::int64_t>(bytes.size()));

  const auto got = download(alice, id);
  ASSERT_EQ(got.status, 200) << got.body.substr(0, 200);
  EXPECT_TRUE(got.body == bytes) << "the download differs: " << got.body.size() << " bytes of " << bytes.size();
  EXPECT_EQ(got.header("Content-Length"), std::to_string(bytes.size()));
  EXPECT_EQ(got.header("Content-Type"), "application/pdf");
  EXPECT_EQ(got.header("Content-Disposition"), "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf");
  EXPECT_EQ(got.header("X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(got.header("Cache-Control"), "private, no-store");

  const auto head = download(alice, id, "HEAD");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.header("Content-Length"), std::to_string(bytes.size()));
  EXPECT_TRUE(head.body.empty());
}

TEST_F(file_api, a_chunked_upload_is_stored_whole) {
  const auto alice = make_user("alice");
  const auto bytes = random_bytes(3 * 1024 * 1024 + 5, 11);
  const auto answer = upload_chunked(alice, "notes.txt", bytes, 100'000);
  ASSERT_EQ(answer.status, 201) << answer.head << answer.body;
  const auto file = json::parse(answer.body);
  EXPECT_EQ(int_field(file, "size"), static_cast<std::int64_t>(bytes.size()));
  EXPECT_EQ(str_field(file, "type"), "text/plain");
  const auto got = download(alice, str_field(file, "id"));
  ASSERT_EQ(got.status, 200);
  EXPECT_TRUE(got.body == bytes) << got.body.size() << " bytes of " << bytes.size();
}

TEST_F(file_api, only_the_uploader_and_the_people_of_a_conversation_carrying_it_may_download) {
  const auto alice = make_user("alice");
  const auto bob = make_user("bob");
  const auto carol = make_user("carol");
  const auto bytes = random_bytes(1000);
  const auto id = str_field(uploaded(alice, bytes), "id");
  EXPECT_EQ(code_of(download(bob, id), 404), "not_found");
  EXPECT_EQ(code_of(download(alice, "no-such-file-id-at-all"), 404), "not_found");

  const auto sent = http_request(port(), "POST", "/v1/messages",
                                 json::serialize(json::object{{"to", "bob"}, {"content", "the report"}, {"attachment", id}}),
                                 {{"Authorization", "Bearer " + alice.token}});
  ASSERT_EQ(sent.status, 201) << sent.body;
  const auto got = download(bob, id);
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_TRUE(got.body == bytes);
  EXPECT_EQ(code_of(download(carol, id), 404), "not_found");
  EXPECT_EQ(code_of(http_request(port(), "GET", "/v1/files/" + id), 401), "unauthorized");
  // With a file, the content may be empty; without one it may not.
  const auto bare = http_request(port(), "POST", "/v1/messages",
                                 json::serialize(json::object{{"to", "bob"}, {"content", ""}, {"attachment", id}}),
                                 {{"Authorization", "Bearer " + alice.token}});
  EXPECT_EQ(bare.status, 201) << bare.body;
  // A file id that is not the sender's own upload is refused.
  const auto foreign = http_request(port(), "POST", "/v1/messages",
                                    json::serialize(json::object{{"to", "alice"}, {"content", "x"}, {"attachment", id}}),
                                    {{"Authorization", "Bearer " + carol.token}});
  EXPECT_EQ(code_of(foreign, 400), "invalid_field");
}

TEST_F(file_api, names_and_types_are_checked_and_the_disposition_carries_any_name) {
  const auto alice = make_user("alice");
  EXPECT_EQ(code_of(upload(alice, "", "x"), 400), "invalid_field");
  EXPECT_EQ(code_of(upload(alice, "?name=", "x"), 400), "invalid_field");
  EXPECT_EQ(code_of(upload(alice, "?name=a%2Fb", "x"), 400), "invalid_field");
  EXPECT_EQ(code_of(upload(alice, "?name=a%0Ab", "x"), 400), "invalid_field");
  EXPECT_EQ(code_of(upload(alice, "?name=%FF", "x"), 400), "invalid_field");
  EXPECT_EQ(code_of(upload(alice, "?name=" + std::string(256, 'n'), "x"), 400), "invalid_field");
  EXPECT_EQ(code_of(http_request(port(), "POST", "/v1/files?name=x", "x"), 401), "unauthorized");

  // A type that is not a media type is stored as octet-stream.
  const auto odd = upload(alice, "?name=x", "x", "not a type");
  ASSERT_EQ(odd.status, 201) << odd.body;
  EXPECT_EQ(str_field(odd.json(), "type"), "application/octet-stream");

  const auto file = uploaded(alice, "hello", "r%C3%A9sum%C3%A9%20%22final%22.txt");
  EXPECT_EQ(str_field(file, "name"), "r\xC3\xA9sum\xC3\xA9 \"final\".txt");
  const auto got = download(alice, str_field(file, "id"));
  EXPECT_EQ(got.body, "hello");
  EXPECT_EQ(got.header("Content-Disposition"),
            "attachment; filename=\"r__sum__ _final_.txt\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22final%22.txt");
}

TEST_F(file_api, a_client_expecting_100_continue_gets_it_only_when_the_upload_is_accepted) {
  const auto alice = make_user("alice");
  auto exchange = [&](const std::string& target) {
    return raw_tcp_exchange(port(), "POST " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " +
                                        alice.token +
                                        "\r\nExpect: 100-continue\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
                            10s);
  };
  const auto accepted = exchange("/v1/files?name=hello.txt");
  EXPECT_TRUE(accepted.starts_with("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 ")) << accepted;
  const auto refused = exchange("/v1/files");
  EXPECT_TRUE(refused.starts_with("HTTP/1.1 400 ")) << refused;
}

TEST_F(file_api, an_empty_file_is_a_file) {
  const auto alice = make_user("alice");
  const auto file = uploaded(alice, "", "empty.bin");
  EXPECT_EQ(int_field(file, "size"), 0);
  const auto got = download(alice, str_field(file, "id"));
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.header("Content-Length"), "0");
}

class file_api_limited : public file_api {
 protected:
  std::map<std::string, std::string> server_env() const override {
    return {{"FILE_MAX_BYTES", "64K"}, {"FILE_UPLOAD_LIMIT", "4/m"}};
  }
};

TEST_F(file_api_limited, an_upload_over_file_max_bytes_is_refused_by_its_length_or_while_streaming) {
  const auto alice = make_user("alice");
  const auto early = upload(alice, "?name=big", random_bytes(64 * 1024 + 1));
  EXPECT_EQ(code_of(early, 413), "body_too_large");
  const auto streamed = upload_chunked(alice, "big", random_bytes(100 * 1024), 16 * 1024);
  EXPECT_EQ(streamed.status, 413) << streamed.head << streamed.body;
  EXPECT_EQ(str_field(json::parse(streamed.body), "code"), "body_too_large");
  // Exactly the limit is fine.
  uploaded(alice, random_bytes(64 * 1024), "fits");
}

TEST_F(file_api_limited, uploads_past_file_upload_limit_get_429) {
  const auto alice = make_user("alice");
  for (int i = 0; i < 4; ++i) uploaded(alice, "x", "f" + std::to_string(i));
  const auto fifth = upload(alice, "?name=f5", "x");
  EXPECT_EQ(code_of(fifth, 429), "rate_limited");
  EXPECT_FALSE(fifth.header("Retry-After").empty());
  // Per user.
  uploaded(make_user("bob"), "x", "bobs");
}

class file_api_quota : public file_api {
 protected:
  std::map<std::string, std::string> server_env() const override { return {{"STORAGE_QUOTA", "100K"}}; }
};

TEST_F(file_api_quota, uploaded_bytes_count_against_storage_quota) {
  const auto alice = make_user("alice");
  uploaded(alice, random_bytes(60 * 1024), "first");
  EXPECT_EQ(code_of(upload(alice, "?name=second", random_bytes(60 * 1024)), 429), "quota_exceeded");
  const auto chunked = upload_chunked(alice, "third", random_bytes(300 * 1024), 32 * 1024);
  EXPECT_EQ(chunked.status, 429) << chunked.head << chunked.body;
  EXPECT_EQ(str_field(json::parse(chunked.body), "code"), "quota_exceeded");
}

}  // namespace
}  // namespace chatrix::test
