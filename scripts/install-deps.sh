#!/usr/bin/env bash
# Installs the Debian 12 packages Chatrix builds and tests with, only when some are missing.
# Never installs libboost-dev: it is Boost 1.74 and conflicts with libboost1.81-dev.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libpq-dev libsqlite3-dev libhiredis-dev libsodium-dev libssl-dev
  libspdlog-dev libcli11-dev libgtest-dev libbenchmark-dev libmimalloc-dev
  postgresql-15 redis-server redis-tools
)

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
