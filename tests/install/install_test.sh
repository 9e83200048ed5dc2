#!/usr/bin/env bash
# Installs a build into a throwaway prefix, once with --prefix and once through DESTDIR, and
# checks that bin/ holds exactly the expected programs, that each answers --help, and that
# the documentation is there.
# Usage: install_test.sh <cmake> <build-dir> <program>...
set -euo pipefail
cmake=$1
build_dir=$2
shift 2
expected=$(printf '%s\n' "$@" | sort)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

check() {
  local root=$1
  shift
  local found
  found=$(ls "$root/bin" | sort)
  if [ "$found" != "$expected" ]; then
    echo "bin/ holds:"; echo "$found"; echo "expected:"; echo "$expected"
    exit 1
  fi
  for program in "$@"; do
    # From an empty directory: the server reads .env from its working directory.
    (cd "$tmp" && "$root/bin/$program" --help >/dev/null) || { echo "$program --help failed"; exit 1; }
  done
  [ -f "$root/share/doc/chatrix/README.md" ] || { echo "README.md not installed"; exit 1; }
  [ -f "$root/share/doc/chatrix/docs/architecture.md" ] || { echo "docs/ not installed"; exit 1; }
}

"$cmake" --install "$build_dir" --prefix "$tmp/prefix" >/dev/null
check "$tmp/prefix" "$@"

DESTDIR="$tmp/stage" "$cmake" --install "$build_dir" --prefix /opt/chatrix >/dev/null
check "$tmp/stage/opt/chatrix" "$@"
