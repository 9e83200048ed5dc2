// Applying the PostgreSQL store's migrations (migrations.hpp) to a database.
#pragma once

#include "storage/postgres/connection.hpp"

#include <boost/asio/awaitable.hpp>

namespace chatrix::storage::postgres_detail {

/// Applies pending migrations under the advisory lock; returns the schema version. The
/// lock is taken per session: if anything fails the caller closes the connection, which
/// releases it.
asio::awaitable<int> migrate(connection& c);

}  // namespace chatrix::storage::postgres_detail
