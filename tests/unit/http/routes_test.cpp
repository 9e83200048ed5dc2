// The route table (http::router::routes(), which the router dispatches on) against
// docs/openapi.yaml, both ways: every route served is documented, every documented route is
// served. That it dispatches is checked on the real server (integration/ops_test.cpp).
#include "http/router.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <utility>

namespace chatrix::http {
namespace {

using route_key = std::pair<std::string, std::string>;  // (METHOD, path)

/// The (method, path) pairs of openapi.yaml's `paths:` block. Read by indentation, which is
/// all that block's shape needs (a path key at two spaces, its operations at four); a YAML
/// library would be a dependency for this one test.
std::set<route_key> documented_routes() {
  std::ifstream in(std::filesystem::path(CHATRIX_SOURCE_DIR) / "docs" / "openapi.yaml");
  if (!in) throw std::runtime_error("cannot read docs/openapi.yaml");
  static const std::set<std::string> methods{"get", "head", "post", "put", "patch", "delete", "options"};
  std::set<route_key> out;
  std::string line, path;
  bool in_paths = false;
  while (std::getline(in, line)) {
    if (line.empty() || line.starts_with('#')) continue;
    if (line[0] != ' ') {
      in_paths = line == "paths:";
      continue;
    }
    if (!in_paths) continue;
    if (line.starts_with("  /") && line.back() == ':') {
      path = line.substr(2, line.size() - 3);
      continue;
    }
    if (line.starts_with("    ") && line[4] != ' ') {
      const auto key = line.substr(4, line.find(':') - 4);
      if (methods.count(key) == 0) continue;
      std::string method = key;
      std::transform(method.begin(), method.end(), method.begin(), [](unsigned char c) { return std::toupper(c); });
      out.emplace(method, path);
    }
  }
  return out;
}

std::set<route_key> served_routes() {
  std::set<route_key> out;
  for (const auto& r : router::routes()) out.emplace(std::string(r.method), std::string(r.path));
  return out;
}

TEST(routes, every_served_route_is_documented) {
  const auto documented = documented_routes();
  ASSERT_FALSE(documented.empty());
  for (const auto& [method, path] : served_routes()) {
    EXPECT_TRUE(documented.count({method, path})) << method << " " << path << " is served but not in docs/openapi.yaml";
  }
}

TEST(routes, every_documented_route_is_served) {
  const auto served = served_routes();
  for (const auto& [method, path] : documented_routes()) {
    EXPECT_TRUE(served.count({method, path})) << method << " " << path << " is in docs/openapi.yaml but not served";
  }
}

TEST(routes, each_route_once_and_one_listener_scope_per_path) {
  std::set<route_key> seen;
  std::map<std::string_view, route_scope> scope_of;
  for (const auto& r : router::routes()) {
    EXPECT_TRUE(seen.emplace(std::string(r.method), std::string(r.path)).second) << r.method << " " << r.path;
    const auto [it, first] = scope_of.emplace(r.path, r.scope);
    EXPECT_TRUE(first || it->second == r.scope) << r.path << ": the router decides the listener by path";
    EXPECT_NE(r.handle, nullptr) << r.method << " " << r.path;
  }
}

TEST(routes, the_probes_answer_get_and_head_on_every_listener) {
  const auto served = served_routes();
  for (const std::string path : {"/health", "/ready"}) {
    EXPECT_TRUE(served.count({"GET", path})) << path;
    EXPECT_TRUE(served.count({"HEAD", path})) << path;
  }
  for (const auto& r : router::routes()) {
    if (r.path == "/health" || r.path == "/ready") {
      EXPECT_EQ(r.scope, route_scope::both) << r.path;
    }
  }
}

}  // namespace
}  // namespace chatrix::http
