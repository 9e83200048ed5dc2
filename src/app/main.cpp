// chatrix: the server binary. Parses the configuration, then hands over to app::run_server.
#include "app/server.hpp"
#include "config/config.hpp"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <exception>

int main(int argc, char** argv) {
  using namespace chatrix;
  std::optional<config::server_config> cfg;
  try {
    cfg = config::load(argc, argv, config::process_environment(), ".env");
  } catch (const config::config_error& e) {
    std::fprintf(stderr, "chatrix: %s\n", e.what());
    return 2;
  }
  if (!cfg) return 0;  // --help or --version
  spdlog::set_level(spdlog::level::from_str(cfg->log_level));
  try {
    return app::run_server(*cfg);
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    return 1;
  }
}
