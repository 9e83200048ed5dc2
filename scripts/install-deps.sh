#!/usr/bin/env bash
# Installs the Debian 12 packages Chatrix needs, only when some are missing.
#   install-deps.sh server   what building and running the server needs (`make run`)
#   install-deps.sh all      that plus what the tests, the tools and cluster mode need (`make test`)
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
# The tests start real PostgreSQL and redis-server processes; the tools link Google Benchmark.
tests=(libgtest-dev libbenchmark-dev postgresql-15 redis-server redis-tools)
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
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
# --no-upgrade: leave already-installed packages (e.g. a running PostgreSQL) alone.
$sudo apt-get install -y -q --no-upgrade --no-install-recommends "${missing[@]}"
