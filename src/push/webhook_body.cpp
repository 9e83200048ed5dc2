#include "push/webhook_body.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

namespace chatrix::push {

std::string encode_body(const push_notice& n, std::int64_t sent_at) {
  boost::json::array tokens;
  tokens.reserve(n.tokens.size());
  for (const auto& t : n.tokens) tokens.push_back(boost::json::object{{"platform", t.platform}, {"token", t.token}});
  boost::json::object body{{"event", "message"},  {"push_id", n.push_id}, {"user_id", n.user},
                           {"username", n.username}, {"message_id", n.message}, {"chat_id", n.chat},
                           {"from_id", n.from_id},   {"from", n.from},         {"timestamp", n.timestamp},
                           {"count", n.count},       {"sent_at", sent_at},     {"tokens", std::move(tokens)}};
  if (n.content) body["content"] = *n.content;
  return boost::json::serialize(body);
}

}  // namespace chatrix::push
