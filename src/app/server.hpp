// The composition root: the only code that names concrete storage and cluster backends. It
// reads the configuration, builds every part, runs the I/O thread and stops cleanly.
#pragma once

#include "config/config.hpp"

namespace chatrix::app {

/// Runs a node until SIGINT or SIGTERM. Throws config::config_error, one line naming the
/// variable, when a setting cannot be applied (data dir or port file not writable, port in
/// use, stored JWT secret unreadable); other exceptions for unexpected start-up failures.
int run_server(const config::server_config& cfg);

/// Applies the database schema migrations and exits (`chatrix migrate`). Returns 0 on success.
int migrate(const config::server_config& cfg);

}  // namespace chatrix::app
