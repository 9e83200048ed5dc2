// chatrix: the server binary. Parses the configuration, then hands over to app::run_server,
// or to app::migrate for `chatrix migrate` (apply the database schema and exit).
#include "app/server.hpp"
#include "config/config.hpp"
#include "core/log_format.hpp"

#include <malloc.h>
#ifdef CHATRIX_MIMALLOC
#include <mimalloc.h>
#endif
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

namespace {

/// A fatal start-up error as the operator sees it: one line on stderr, "chatrix: " and the
/// message (libpq's messages span lines; the log may be elsewhere or filtered by level).
void report(const char* message) {
  std::string line = message;
  std::replace_if(line.begin(), line.end(), [](char c) { return c == '\n' || c == '\r' || c == '\t'; }, ' ');
  std::fprintf(stderr, "chatrix: %s\n", line.c_str());
}

#ifdef CHATRIX_MIMALLOC
/// Memory freed after a spike (a flood, many connections holding big frames, slow consumers)
/// goes back to the system. mimalloc purges freed memory only after a delay (25 ms for a page,
/// 500 ms for a whole segment) and only when the allocator runs again on that thread, so a
/// server that went quiet after a spike kept it: 500 sockets holding most of a 1 MB frame took
/// RSS from 16 to 516 MB, and 478 MB stayed after they left. Segments free as a whole now go
/// back at once (17-37 MB stayed). A spike empties whole segments, a steady load rarely does,
/// so this costs little: madvise calls over the messaging and delivery tests went from 261 to
/// 433. Purging each freed page at once too (MIMALLOC_DECOMMIT_DELAY=0) gives back the rest
/// but made 2275 calls there, paid per page emptied under load; not the default until the
/// message benchmark shows it free. MIMALLOC_* variables, when set, still win.
void return_freed_segments_at_once() {
  if (std::getenv("MIMALLOC_SEGMENT_DECOMMIT_DELAY") == nullptr) mi_option_set(mi_option_segment_decommit_delay, 0);
}
#endif

}  // namespace

int main(int argc, char** argv) {
  using namespace chatrix;
  // Fixed thresholds instead of glibc's adaptive ones, for whatever still allocates through
  // glibc: otherwise freeing buffers keeps returning memory to the kernel (madvise), each time
  // a TLB shootdown across cores.
  mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
  mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024);
#ifdef CHATRIX_MIMALLOC
  return_freed_segments_at_once();
#endif
  // The subcommand comes first and is not a setting; the flags after it are the server's.
  const bool migrate = argc > 1 && std::strcmp(argv[1], "migrate") == 0;
  std::vector<const char*> args(argv, argv + argc);
  if (migrate) args.erase(args.begin() + 1);

  std::optional<config::server_config> cfg;
  try {
    cfg = config::load(static_cast<int>(args.size()), args.data(), config::process_environment(), ".env");
  } catch (const config::config_error& e) {
    report(e.what());
    return 2;
  }
  if (!cfg) return 0;  // --help or --version
  spdlog::set_level(spdlog::level::from_str(cfg->log_level));
  log::use_format(cfg->log_format);
#ifdef CHATRIX_MIMALLOC
  // Also what keeps the linker from dropping mimalloc, whose malloc replaces glibc's.
  spdlog::debug("allocator: mimalloc {}", mi_version());
#endif
  try {
    return migrate ? app::migrate(*cfg) : app::run_server(*cfg);
  } catch (const config::config_error& e) {
    // A setting that cannot be applied (port in use, data dir not creatable...): the same one
    // line as a bad value.
    report(e.what());
    return 2;
  } catch (const std::exception& e) {
    // A dependency that cannot be had (the database unreachable...): the operator may only
    // need to start it, hence a status of its own.
    report(e.what());
    return 1;
  }
}
