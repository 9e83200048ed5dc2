#!/usr/bin/env bash
# Latency against offered load: open-loop chatrix-bench runs at increasing rates, each
# against a fresh single node on loopback (SQLite default, durable), then a PNG plot.
# Usage: tools/bench/sweep.sh [build-dir] [out-dir]   (needs gnuplot for the plot)
set -euo pipefail
build=${1:-build}
out=${2:-docs/perf}
rates=${RATES:-"1000 2500 5000 10000 20000 25000 30000 40000 50000"}
duration=${DURATION:-8}
mkdir -p "$out"
tsv="$out/latency_vs_load.tsv"
echo -e "offered_per_s\tacked_per_s\tack_p50_ms\tack_p99_ms\tdeliver_p50_ms\tdeliver_p99_ms\terrors\tlost" >"$tsv"

for rate in $rates; do
  dir=$(mktemp -d)
  CHATRIX_DATA_DIR="$dir/data" SERVER_PORT=127.0.0.1:0 CHATRIX_PORT_FILE="$dir/port" \
    ARGON2_PROFILE=min LOG_LEVEL=warn "$build/bin/chatrix" >"$dir/log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do [ -s "$dir/port" ] && break; sleep 0.05; done
  line=$("$build/bin/chatrix-bench" --url "ws://127.0.0.1:$(cat "$dir/port")/ws" --pairs 100 \
           --rate "$rate" --warmup 2 --duration "$duration" --json | tail -n 1)
  kill "$pid"; wait "$pid" || true; rm -rf "$dir"
  echo "$line" >&2
  python3 - "$rate" "$line" >>"$tsv" <<'PY'
import json, sys
r = json.loads(sys.argv[2])
print("\t".join(str(x) for x in (sys.argv[1], r["acked_per_s"], r["ack_p50_ms"], r["ack_p99_ms"],
                                  r["deliver_p50_ms"], r["deliver_p99_ms"], r["errors"], r["lost"])))
PY
done

if command -v gnuplot >/dev/null; then
  gnuplot <<GP
set terminal pngcairo size 900,540 font "sans,11"
set output "$out/latency_vs_load.png"
set title "Chatrix single node (SQLite, durable): latency against offered load, 100 pairs, 100-byte messages"
set xlabel "offered load (messages/s)"
set ylabel "latency (ms, log scale)"
set logscale y
set key top left
set grid
plot "$tsv" using 1:6 with linespoints title "send -> deliver p99", \
     "$tsv" using 1:5 with linespoints title "send -> deliver p50", \
     "$tsv" using 1:4 with linespoints title "send -> DELIVERED p99", \
     "$tsv" using 1:3 with linespoints title "send -> DELIVERED p50"
GP
fi
cat "$tsv"
