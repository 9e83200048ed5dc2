#!/usr/bin/env bash
# Installs the Debian 12 packages Chatrix needs, only when some are missing.
#   install-deps.sh server   what building and running the server needs (`make run`)
#   install-deps.sh all      that plus what the tests, the tools and cluster mode need (`make test`),
#                            with the browser test's npm packages (tests/browser/node_modules)
#   install-deps.sh fuzz     the server's packages plus clang and its libFuzzer runtime (`make fuzz`)
# Never installs libboost-dev: it is Boost 1.74 and conflicts with libboost1.81-dev.
set -euo pipefail

# libpq-dev and libhiredis-dev are here too: the server compiles in its PostgreSQL store and
# its Redis bus, even when it runs on SQLite alone.
server=(
  build-essential cmake ninja-build pkg-config
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libpq-dev libsqlite3-dev libhiredis-dev libsodium-dev libssl-dev
  libspdlog-dev libcli11-dev libmimalloc-dev
)
# The tests start real PostgreSQL and redis-server processes; the tools link Google Benchmark; the
# browser test drives Debian's Chromium (never a browser of its own download).
tests=(libgtest-dev libbenchmark-dev postgresql-15 redis-server redis-tools chromium)
# The package test builds the .deb (dpkg-shlibdeps computes its Depends) and asks the
# unpacked server over HTTP.
tests+=(dpkg-dev curl)
# The fuzz targets: libFuzzer comes with clang's runtime libraries (Debian 12: clang 14).
fuzz=(clang libclang-rt-14-dev)

case "${1:-all}" in
  server) packages=("${server[@]}") ;;
  all) packages=("${server[@]}" "${tests[@]}") ;;
  fuzz) packages=("${server[@]}" "${fuzz[@]}") ;;
  *) echo "usage: $0 [server|all|fuzz]" >&2; exit 2 ;;
esac

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -q
  # --no-upgrade: leave already-installed packages (e.g. a running PostgreSQL) alone.
  $sudo apt-get install -y -q --no-upgrade --no-install-recommends "${missing[@]}"
fi

# The browser test's one npm package (playwright-core, pinned by tests/browser/package-lock.json),
# installed with the machine's Node.js 20 and the npm that comes with it; this script does not
# install Node.js itself. PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: the test uses /usr/bin/chromium.
if [ "${1:-all}" = all ]; then
  browser_tests="$(dirname "$0")/../tests/browser"
  if [ ! -d "$browser_tests/node_modules" ]; then
    command -v npm >/dev/null || { echo "npm not found: the browser test needs Node.js 20 with npm" >&2; exit 1; }
    echo "installing the browser test's npm packages (npm ci in tests/browser)"
    (cd "$browser_tests" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
  fi
fi
