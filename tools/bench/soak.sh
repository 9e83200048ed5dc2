#!/usr/bin/env bash
# A bounded soak of one SQLite node on loopback (docs/performance.md, "Soak"): SOAK_SECONDS
# of open-loop messages at RATE (default: half the node's closed-loop rate, measured first by
# a 10 s closed run) while IDLE authenticated connections stay open beside them. Every
# SAMPLE_SECONDS it records throughput, p99 and the server's RSS (/proc/PID/status); at the
# end it prints them as a markdown table and fails if a message was lost or duplicated, a
# message connection dropped, or an idle connection was closed.
# Usage: tools/bench/soak.sh [build-dir] [out-dir]
#   SOAK_SECONDS (600)  IDLE (10000)  SAMPLE_SECONDS (30)  PAIRS (100)  RATE (measured)
#
# Limits: the node runs with its defaults except the per-address connection limits, which
# are lifted (set to 0) for the idle holder: its connections come from 16 loopback addresses,
# opened far faster than CONNECT_LIMIT lets one address connect, up to 256 at once before
# they authenticate (UNAUTHENTICATED_PER_ADDRESS), and past IDLE=16,000 they would pass
# ADDRESS_CONNECTIONS. REGISTER_LIMIT is lifted too: the setup registers 1,450 users from one
# address. The messages run under the default per-connection limits (MESSAGE_RATE,
# MESSAGE_BURST, STORAGE_QUOTA...).
set -euo pipefail
build=$(realpath "${1:-build}")
out=$(realpath -m "${2:-/tmp/chatrix-soak}")
soak=${SOAK_SECONDS:-600}
idle=${IDLE:-10000}
sample=${SAMPLE_SECONDS:-30}
pairs=${PAIRS:-100}
rate=${RATE:-}
mkdir -p "$out"
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  sleep 1
  rm -rf "$work"
}
trap cleanup EXIT

# The node, as targets.sh starts one: fresh data dir, loopback, port file, minimal Argon2.
mkdir -p "$work/node"
env CHATRIX_DATA_DIR="$work/node/data" SERVER_PORT=127.0.0.1:0 CHATRIX_PORT_FILE="$work/node/port" \
  ARGON2_PROFILE=min LOG_LEVEL=warn JWT_SECRET=bench-secret-0123456789 \
  ADDRESS_CONNECTIONS=0 CONNECT_LIMIT=0 UNAUTHENTICATED_PER_ADDRESS=0 REGISTER_LIMIT=0 \
  "$build/bin/chatrix" >"$work/node/log" 2>&1 &
node_pid=$!
pids+=("$node_pid")
for _ in $(seq 1 200); do [ -s "$work/node/port" ] && break; sleep 0.05; done
port=$(cat "$work/node/port")
url="ws://127.0.0.1:$port/ws"
connections_open() {
  curl -s "http://127.0.0.1:$port/metrics" | awk '$1 == "chatrix_connections_open" {print $2}'
}
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$node_pid/status"; }

if [ -z "$rate" ]; then
  closed=$("$build/bin/chatrix-bench" --url "$url" --pairs "$pairs" --window 16 --duration 10 --json | tail -n 1)
  echo "$closed" >"$out/closed.json"
  rate=$(python3 -c 'import json,sys; print(int(json.loads(sys.argv[1])["acked_per_s"] / 2))' "$closed")
  echo "closed loop: $(python3 -c 'import json,sys; print(round(json.loads(sys.argv[1])["acked_per_s"]))' "$closed") msg/s; soak rate $rate msg/s" >&2
fi

# The idle holder: a second bench process, holding its connections past the end of the soak.
"$build/bin/chatrix-bench" --url "$url" --idle "$idle" --threads 1 --user-prefix soak_ \
  --hold $((soak + 120)) --json >"$out/idle.json" 2>"$out/idle.log" &
idle_pid=$!
pids+=("$idle_pid")
for _ in $(seq 1 $((60 + idle / 500))); do
  [ "$(connections_open)" -ge "$idle" ] 2>/dev/null && break
  kill -0 "$idle_pid" 2>/dev/null || { echo "soak: the idle holder exited: $(cat "$out/idle.log")" >&2; exit 2; }
  sleep 1
done
[ "$(connections_open)" -ge "$idle" ] || { echo "soak: only $(connections_open) of $idle idle connections open" >&2; exit 2; }
echo "idle: $idle connections open, server RSS $(rss_kib) KiB" >&2
rss_start=$(rss_kib)

status=0
"$build/bin/chatrix-bench" --url "$url" --pairs "$pairs" --rate "$rate" --duration "$soak" \
  --report-every "$sample" --server-pid "$node_pid" --json --max-lost 0 --max-duplicates 0 \
  >"$out/soak.jsonl" || status=$?
idle_left=$(connections_open)
rss_end=$(rss_kib)

python3 - "$out/soak.jsonl" "$idle" "$idle_left" "$rate" "$rss_start" "$rss_end" "$status" <<'PY'
import json, sys
path, idle, idle_left, rate, rss_start, rss_end, status = sys.argv[1:]
lines = [json.loads(l) for l in open(path) if l.strip().startswith("{")]
intervals = [l for l in lines if l.get("mode") == "interval"]
final = lines[-1] if lines and lines[-1].get("mode") != "interval" else None
print(f"Soak: {rate} msg/s offered, {idle} idle connections\n")
print("| t (s) | acked/s | ack p50 (ms) | ack p99 (ms) | deliver p99 (ms) | errors | server RSS (MiB) |")
print("|---|---|---|---|---|---|---|")
for r in intervals:
    rss = f"{r['rss_kib'] / 1024:.1f}" if r["rss_kib"] is not None else "?"
    print(f"| {r['t_s']:.0f} | {r['acked_per_s']:,.0f} | {r['ack_p50_ms']:.2f} | {r['ack_p99_ms']:.2f} | "
          f"{r['deliver_p99_ms']:.2f} | {r['errors']} | {rss} |")
print()
print(f"server RSS: {int(rss_start) / 1024:.1f} MiB with the idle connections up, {int(rss_end) / 1024:.1f} MiB at the end")
print(f"idle connections still open at the end: {idle_left} of {idle}")
ok = final is not None and int(status) == 0 and int(idle_left) >= int(idle)
if final:
    print(f"whole run: acked {final['acked_per_s']:,.0f}/s, ack p99 {final['ack_p99_ms']:.2f} ms, "
          f"deliver p99 {final['deliver_p99_ms']:.2f} ms, sent {final['sent']}, lost {final['lost']}, "
          f"duplicates {final['duplicates']}, out of order {final['out_of_order']}, errors {final['errors']}, "
          f"unacked {final['unacked']}")
    ok = ok and final["lost"] == 0 and final["duplicates"] == 0 and final["errors"] == 0
print("result:", "ok" if ok else f"FAILED (bench exit {status})")
sys.exit(0 if ok else 1)
PY
