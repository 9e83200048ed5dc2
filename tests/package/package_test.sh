#!/usr/bin/env bash
# Builds the Debian package from the build tree into a temp dir (cpack, as `make package`
# does), checks its contents and control files, runs its postinst against stand-in commands,
# verifies the systemd unit, then unpacks it (dpkg-deb -x, never installed on this machine)
# and starts the packaged server against a temp data dir: it must serve the packaged web
# client at / and register a user.
# Also: a plain install (make install) puts nothing outside its prefix, the unit and
# /etc/chatrix/chatrix.env being the package's alone.
# Usage: package_test.sh <cmake> <cpack> <build-dir> <version> <program>...
set -euo pipefail
cmake=$1
cpack=$2
build_dir=$3
version=$4
shift 4
expected_programs=$(printf './usr/bin/%s\n' "$@" | sort)
tmp=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT

fail() {
  echo "package test failed: $*" >&2
  exit 1
}

# ---- make install stays inside its prefix ----
DESTDIR="$tmp/stage" "$cmake" --install "$build_dir" --prefix /opt/chatrix >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log"; fail "cmake --install"; }
outside=$(cd "$tmp/stage" && find . -mindepth 1 -not -path ./opt -not -path './opt/chatrix*')
[ -z "$outside" ] || fail "cmake --install wrote outside its prefix: $outside"

# ---- build ----
(cd "$build_dir" && "$cpack" -G DEB -B "$tmp/out" >"$tmp/cpack.log" 2>&1) || { cat "$tmp/cpack.log"; fail "cpack"; }
deb=$(ls "$tmp/out/chatrix_${version}_"*.deb 2>/dev/null) || fail "no chatrix_${version}_*.deb in $(ls "$tmp/out")"

# ---- contents ----
contents=$(dpkg-deb -c "$deb" | awk '{print $6}')
for path in ./usr/share/chatrix/web/index.html ./lib/systemd/system/chatrix.service ./etc/chatrix/chatrix.env \
  ./usr/share/doc/chatrix/docs/operations.md; do
  grep -qx -- "$path" <<<"$contents" || fail "$path is not in the package"
done
programs=$(grep '^\./usr/bin/.' <<<"$contents" | sort)
[ "$programs" = "$expected_programs" ] || fail "usr/bin holds: $programs; expected: $expected_programs"
# Everything lives under /usr, /lib/systemd and /etc/chatrix; nothing under /usr/local or the build tree.
stray=$(grep -vE '^\./(usr/|lib/(systemd/(system/)?)?$|lib/systemd/system/chatrix\.service$|etc/(chatrix/(chatrix\.env)?)?$)' <<<"$contents" | grep -v '^\./$' || true)
[ -z "$stray" ] || fail "unexpected paths: $stray"
env_mode=$(dpkg-deb -c "$deb" | awk '$6 == "./etc/chatrix/chatrix.env" {print $1, $2}')
[ "$env_mode" = "-rw-r----- root/root" ] || fail "chatrix.env is $env_mode, expected -rw-r----- root/root (it may hold secrets)"

# ---- control files ----
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = chatrix ] || fail "Package is '$(field Package)'"
[ "$(field Version)" = "$version" ] || fail "Version is '$(field Version)', the project is $version"
[ -n "$(field Maintainer)" ] || fail "no Maintainer"
depends=$(field Depends)
for dep in adduser libc6 libsqlite3-0 libpq5 libssl3; do
  grep -qE "(^|, )$dep( |,|$)" <<<"$depends" || fail "Depends lacks $dep: $depends"
done
dpkg-deb -e "$deb" "$tmp/control"
[ "$(cat "$tmp/control/conffiles")" = /etc/chatrix/chatrix.env ] || fail "conffiles: $(cat "$tmp/control/conffiles")"
for script in postinst prerm postrm; do
  [ -x "$tmp/control/$script" ] || fail "$script missing or not executable"
  sh -n "$tmp/control/$script" || fail "$script: syntax error"
done

# The postinst with stand-ins for the commands it may call, and nothing else on PATH: a call
# to anything else fails the script instead of touching this machine. On a machine without
# the chatrix user it must create group and user, as system accounts.
mkdir "$tmp/stubs"
for cmd in getent addgroup adduser systemctl; do
  printf '#!/bin/sh\necho "%s $*" >>"%s"\n[ "%s" != getent ]\n' "$cmd" "$tmp/calls" "$cmd" >"$tmp/stubs/$cmd"
  chmod +x "$tmp/stubs/$cmd"
done
PATH="$tmp/stubs" /bin/sh "$tmp/control/postinst" configure >"$tmp/postinst.log" 2>&1 ||
  { cat "$tmp/postinst.log"; fail "postinst configure exited with $?"; }
grep -qx 'addgroup --system chatrix' "$tmp/calls" || fail "postinst did not create the group: $(cat "$tmp/calls")"
grep -qE '^adduser --system .*--ingroup chatrix .*--home /var/lib/chatrix .* chatrix$' "$tmp/calls" ||
  fail "postinst did not create the system user: $(cat "$tmp/calls")"

# ---- the systemd unit ----
dpkg-deb -x "$deb" "$tmp/root"
unit=$tmp/root/lib/systemd/system/chatrix.service
for line in User=chatrix StateDirectory=chatrix Environment=CHATRIX_DATA_DIR=/var/lib/chatrix \
  WorkingDirectory=/var/lib/chatrix EnvironmentFile=-/etc/chatrix/chatrix.env NoNewPrivileges=yes \
  ProtectSystem=strict ExecStart=/usr/bin/chatrix; do
  grep -qx -- "$line" "$unit" || fail "the unit lacks $line"
done
# systemd-analyze checks every directive and that ExecStart exists: it gets a copy pointing at
# the unpacked binary (this machine has no /usr/bin/chatrix). Skipped without systemd.
if command -v systemd-analyze >/dev/null; then
  mkdir "$tmp/unit"
  sed "s|^ExecStart=/usr/bin/chatrix|ExecStart=$tmp/root/usr/bin/chatrix|" "$unit" >"$tmp/unit/chatrix.service"
  systemd-analyze verify "$tmp/unit/chatrix.service" >"$tmp/verify.log" 2>&1 || { cat "$tmp/verify.log"; fail "systemd-analyze verify"; }
  [ ! -s "$tmp/verify.log" ] || { cat "$tmp/verify.log"; fail "systemd-analyze verify warned"; }
else
  echo "systemd-analyze not installed: the unit is not verified"
fi

# ---- the unpacked programs ----
# A clean environment (no CHATRIX_* or other settings from the caller), but a sanitizer
# build's report options pass through (scripts/ctest-sanitized.sh).
clean_env=(env -i PATH=/usr/bin:/bin HOME="$tmp/run")
for variable in ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS TSAN_OPTIONS; do
  [ -z "${!variable:-}" ] || clean_env+=("$variable=${!variable}")
done
mkdir "$tmp/run"
for program in "$@"; do
  (cd "$tmp/run" && "${clean_env[@]}" "$tmp/root/usr/bin/$program" --help >/dev/null) || fail "$program --help failed"
done

# ---- the unpacked server ----
# An empty working directory (the server reads .env there); no WEB_DIR: the default must
# find the packaged files beside the packaged binary.
(cd "$tmp/run" && exec "${clean_env[@]}" "$tmp/root/usr/bin/chatrix" --port 127.0.0.1:0 \
  --port-file "$tmp/port" --data-dir "$tmp/data" --argon2 min >"$tmp/server.log" 2>&1) &
pid=$!
for _ in $(seq 1 200); do
  [ -s "$tmp/port" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$tmp/server.log"; fail "the packaged server exited at start"; }
  sleep 0.05
done
[ -s "$tmp/port" ] || { cat "$tmp/server.log"; fail "the packaged server did not write its port"; }
base=http://127.0.0.1:$(cat "$tmp/port")

status=$(curl -s -o "$tmp/index.html" -w '%{http_code}' "$base/")
[ "$status" = 200 ] || fail "GET / answered $status"
cmp -s "$tmp/index.html" "$tmp/root/usr/share/chatrix/web/index.html" || fail "GET / is not the packaged index.html"

status=$(curl -s -o "$tmp/register.json" -w '%{http_code}' -X POST "$base/auth/register" \
  -H 'Content-Type: application/json' -d '{"username":"packaged","password":"correct horse","name":"Packaged"}')
[ "$status" = 200 ] || fail "POST /auth/register answered $status: $(cat "$tmp/register.json")"
grep -q '"token":"' "$tmp/register.json" || fail "no token in $(cat "$tmp/register.json")"
[ -f "$tmp/data/chatrix.db" ] || fail "no database in the data dir given"

kill -TERM "$pid"
wait "$pid" || { cat "$tmp/server.log"; fail "the packaged server exited with $? on SIGTERM"; }
pid=""
echo "package ok: $(basename "$deb"), Depends: $depends"
