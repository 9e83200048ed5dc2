// The composition root: the only code that names concrete storage and cluster backends. It
// reads the configuration, builds every part, runs the I/O thread and stops cleanly.
#pragma once

#include "config/config.hpp"

namespace chatrix::app {

/// Runs a node until SIGINT or SIGTERM. Throws on a startup failure (bad configuration that
/// only shows at start, unusable data directory, port in use).
int run_server(const config::server_config& cfg);

/// Applies the database schema migrations and exits (`chatrix migrate`). Returns 0 on success.
int migrate(const config::server_config& cfg);

}  // namespace chatrix::app
