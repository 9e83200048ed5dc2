// The ctest fixture behind the integration tests' PostgreSQL run: `start STATE_DIR` starts one
// PostgreSQL for the whole ctest run and writes its base URL to STATE_DIR/url (read through
// CHATRIX_TEST_PG_URL_FILE, see tests/support/test_store.hpp); `stop STATE_DIR` stops it.

#include "support/pg_instance.hpp"

#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

namespace fs = std::filesystem;

namespace {

/// Stops the instance recorded in `state` (if any) and forgets it.
void stop_recorded(const fs::path& state) {
  std::error_code ignored;
  // The URL goes first: from now on test processes start their own server.
  fs::remove(state / "url", ignored);
  std::ifstream in(state / "instance_dir");
  std::string dir;
  if (in >> dir && !dir.empty()) chatrix::testing::pg_instance::stop_detached(dir);
  fs::remove(state / "instance_dir", ignored);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 || (std::strcmp(argv[1], "start") != 0 && std::strcmp(argv[1], "stop") != 0)) {
    std::cerr << "usage: " << argv[0] << " start|stop STATE_DIR\n";
    return 2;
  }
  const fs::path state = argv[2];
  try {
    // A run that was aborted before its cleanup left its server running: stop it first.
    stop_recorded(state);
    if (std::strcmp(argv[1], "stop") == 0) return 0;

    fs::create_directories(state);
    chatrix::testing::pg_instance pg;
    {
      std::ofstream out(state / "instance_dir");
      out << pg.directory().string() << '\n';
      if (!out) throw std::runtime_error("cannot write " + (state / "instance_dir").string());
    }
    // Write then rename: a reader never sees a partial URL.
    const std::string url = pg.url("");  // ".../" : test_store appends the database name
    {
      std::ofstream out(state / "url.tmp");
      out << url << '\n';
      if (!out) throw std::runtime_error("cannot write " + (state / "url.tmp").string());
    }
    fs::rename(state / "url.tmp", state / "url");
    pg.detach();
    std::cout << "shared PostgreSQL for this test run: " << url << " (" << pg.directory().string() << ")\n";
    return 0;
  } catch (const std::exception& e) {
    // Not fatal for the tests: without the URL file each test process starts its own.
    std::cerr << "pg_shared_server " << argv[1] << ": " << e.what() << '\n';
    return 1;
  }
}
