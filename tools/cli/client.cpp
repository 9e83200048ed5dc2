#include "client.hpp"

#include "cli_error.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cctype>

namespace chatrix::cli {

namespace json = boost::json;

namespace {

json::value ok_body(const http_reply& reply) {
  if (reply.status != 200) {
    const auto refusal = http_error_of(reply.status, reply.body);
    throw server_error(refusal.code, refusal.reason);
  }
  boost::system::error_code ec;
  json::value value = json::parse(reply.body, ec);
  if (ec) throw cli_error("bad_response", "unexpected answer from the server: not JSON", exit_status::unreachable);
  return value;
}

signed_in signed_in_of(const http_reply& reply) {
  const json::value body = ok_body(reply);
  const auto& object = as_object(body, "answer");
  return {string_field(object, "token"), user_of(object.at("user"))};
}

bool same_username(std::string_view a, std::string_view b) {
  // Usernames are ASCII and compare without regard to case (docs/protocol.md).
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
  });
}

}  // namespace

signed_in register_account(const server_url& server, const std::string& username, const std::string& password,
                           const std::string& name) {
  const json::object request{{"username", username}, {"password", password}, {"name", name}};
  return signed_in_of(post_json(server, "/auth/register", json::serialize(request), ""));
}

signed_in log_in(const server_url& server, const std::string& username, const std::string& password) {
  const json::object request{{"username", username}, {"password", password}};
  return signed_in_of(post_json(server, "/auth/login", json::serialize(request), ""));
}

std::int64_t log_out(const server_url& server, const std::string& token) {
  const json::value body = ok_body(post_json(server, "/auth/logout", "", token));
  return int_field(as_object(body, "answer"), "revoked");
}

chat_session::chat_session(const server_url& server, const std::string& token, std::optional<std::int64_t> since)
    : connection_(server) {
  json::object hello{{"token", token}, {"acks", true}};
  if (since) hello["since"] = *since;
  connection_.write(json::serialize(hello));
  const auto deadline = clock::now() + network_timeout;
  const auto any_error = [](const frame& f) { return f.type == static_cast<int>(event::err); };
  me_ = user_of(await([](const frame& f) { return f.type == static_cast<int>(event::profile_info); }, any_error,
                      deadline, "the server to accept the token (PROFILE_INFO)")
                    .body);
  previews_ = await([](const frame& f) { return f.type == static_cast<int>(event::chat_previews); }, any_error,
                    deadline, "the chat previews (CHATPREVIEWS)")
                  .body;
}

void chat_session::send(event type, json::value body) { connection_.write(encode_frame(type, std::move(body))); }

std::optional<frame> chat_session::next(clock::time_point deadline) {
  auto text = connection_.read(deadline);
  if (!text) return std::nullopt;
  return parse_frame(*text);
}

frame chat_session::await(const std::function<bool(const frame&)>& answers,
                          const std::function<bool(const frame&)>& refuses, clock::time_point deadline,
                          const std::string& awaited) {
  for (;;) {
    auto f = next(deadline);
    if (!f) throw cli_error("timeout", "gave up waiting for " + awaited, exit_status::timeout);
    if (answers(*f)) return std::move(*f);
    if (f->type == static_cast<int>(event::err) && refuses(*f)) {
      const auto refusal = error_of(f->body);
      throw server_error(refusal.code.empty() ? "internal" : refusal.code, refusal.reason);
    }
  }
}

frame chat_session::request(event request_type, json::value body, event answer) {
  send(request_type, std::move(body));
  return await([answer](const frame& f) { return f.type == static_cast<int>(answer); },
               [request_type](const frame& f) {
                 const auto* object = f.body.if_object();
                 const auto* ref = object ? object->if_contains("ref_type") : nullptr;
                 // An ERR about the connection itself (no ref_type) ends this request too.
                 return !ref || (ref->is_int64() && ref->get_int64() == static_cast<int>(request_type));
               },
               clock::now() + network_timeout,
               "the server's answer (event " + std::to_string(static_cast<int>(answer)) + ")");
}

void chat_session::send_and_confirm(event type, json::value body) {
  send(type, std::move(body));
  send(event::search_request, json::object{{"username", ""}});
  const auto refers_to = [](const frame& f, event t) {
    const auto* object = f.body.if_object();
    const auto* ref = object ? object->if_contains("ref_type") : nullptr;
    return ref && ref->is_int64() && ref->get_int64() == static_cast<int>(t);
  };
  await(
      [&](const frame& f) {
        // The empty search's answer, or its refusal (a search limit): either way it was reached.
        if (f.type == static_cast<int>(event::search_response)) return true;
        return f.type == static_cast<int>(event::err) && refers_to(f, event::search_request);
      },
      [&](const frame& f) {
        const auto* object = f.body.if_object();
        return refers_to(f, type) || !object || !object->contains("ref_type");
      },
      clock::now() + network_timeout, "the server to confirm (event " + std::to_string(static_cast<int>(type)) + ")");
}

user chat_session::find_user(const std::string& username) {
  // Search ranks an exact username first, so one result answers unless nobody has the name.
  const auto answer =
      request(event::search_request, json::object{{"username", username}, {"limit", 1}}, event::search_response);
  if (const auto* rows = answer.body.if_array()) {
    for (const auto& row : *rows) {
      user candidate = user_of(row);
      if (same_username(candidate.username, username)) return candidate;
    }
  }
  throw server_error("unknown_recipient", "no user called " + username);
}

}  // namespace chatrix::cli
