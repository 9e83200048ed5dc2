#!/usr/bin/env bash
# chatrix-bench smoke run: a short closed-loop and open-loop load against a fresh node on
# loopback. It checks only that the generator works and that nothing was lost, duplicated or
# reordered; speed is measured by the benchmarks in docs/performance.md, never asserted here.
# The server's idle timeout is 2 s: it pings a connection after 2 s of silence and closes it 1 s
# later without an answer. Recipients never send, so in the 4-second open-loop run a bench that
# did not answer pings would lose its recipients and their messages.
# MESSAGE_RATE=0: with 10 pairs each sender may pass the default 5,000 TEXTs/s a connection
# (docs/security.md); this checks the generator, and the limit has tests of its own.
set -euo pipefail
server_bin=$1
bench_bin=$2
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT

CHATRIX_DATA_DIR="$dir/data" SERVER_PORT=127.0.0.1:0 CHATRIX_PORT_FILE="$dir/port" \
  ARGON2_PROFILE=min LOG_LEVEL=warn IDLE_TIMEOUT=2s MESSAGE_RATE=0 JWT_SECRET=bench-smoke-secret-0123456789 \
  "$server_bin" >"$dir/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do [ -s "$dir/port" ] && break; sleep 0.05; done
port=$(cat "$dir/port")

# One run: chatrix-bench itself fails (exit 3) on any lost or duplicated message; the other
# counters are read from its JSON report (the last line) with bash alone, so that the suite
# needs nothing that scripts/install-deps.sh does not install.
run() {
  local out line
  out=$("$bench_bin" --url "ws://127.0.0.1:$port/ws" --pairs 10 --max-lost 0 --max-duplicates 0 --json "$@") || {
    local rc=$?
    echo "$out"
    echo "bench smoke failed: chatrix-bench exited with $rc (3: messages lost or duplicated)"
    exit 1
  }
  line=${out##*$'\n'}
  echo "$line"
  [[ $line =~ \"sent\":[1-9] ]] || { echo "bench smoke failed: nothing was sent"; exit 1; }
  for key in lost duplicates out_of_order unacked; do
    [[ $line =~ \"$key\":0[,}] ]] || { echo "bench smoke failed: $key is not 0"; exit 1; }
  done
}

run --window 8 --duration 2
run --rate 2000 --duration 4 --user-prefix open_
kill -0 "$pid"  # the server survived both runs
echo "bench smoke: 2 passed, 0 failed"
