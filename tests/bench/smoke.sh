#!/usr/bin/env bash
# chatrix-bench smoke run: a short closed-loop and open-loop load against a fresh node on
# loopback. It checks only that the generator works and that nothing was lost, duplicated or
# reordered; speed is measured by the benchmarks in docs/performance.md, never asserted here.
set -euo pipefail
server_bin=$1
bench_bin=$2
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT

CHATRIX_DATA_DIR="$dir/data" SERVER_PORT=127.0.0.1:0 CHATRIX_PORT_FILE="$dir/port" \
  ARGON2_PROFILE=min LOG_LEVEL=warn JWT_SECRET=bench-smoke-secret-0123456789 \
  "$server_bin" >"$dir/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do [ -s "$dir/port" ] && break; sleep 0.05; done
port=$(cat "$dir/port")

check() {  # the last line of the run must be JSON with no loss, duplicate or reordering
  local line=$1
  echo "$line"
  python3 - "$line" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
bad = {k: r[k] for k in ("lost", "duplicates", "out_of_order", "unacked") if r.get(k, 0) != 0}
if r.get("sent", 0) <= 0 or bad:
    sys.exit(f"bench smoke failed: sent={r.get('sent')} {bad}")
PY
}

check "$("$bench_bin" --url "ws://127.0.0.1:$port/ws" --pairs 10 --window 8 --duration 2 --json | tail -n 1)"
check "$("$bench_bin" --url "ws://127.0.0.1:$port/ws" --pairs 10 --rate 2000 --duration 2 --user-prefix open_ --json | tail -n 1)"
kill -0 "$pid"  # the server survived both runs
echo "bench smoke: 2 passed, 0 failed"
