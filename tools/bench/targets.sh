#!/usr/bin/env bash
# Every measure of docs/performance.md's results table, each against fresh processes on
# loopback: a SQLite node, a PostgreSQL node (its own initdb), two PostgreSQL nodes joined by
# a redis-server. Runs each measure RUNS times and prints the median run of each as a
# markdown table; every run's JSON line is kept in OUT/*.jsonl.
# Usage: tools/bench/targets.sh [build-dir] [out-dir]     (needs python3, run as root or as a
#        user that may start PostgreSQL: initdb runs as the postgres user when root)
#        ONLY="presence_one presence_cluster" runs only the measures named (all by default).
set -euo pipefail
build=$(realpath "${1:-build}")
out=$(realpath -m "${2:-/tmp/chatrix-targets}")
runs=${RUNS:-3}
mkdir -p "$out"
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  [ -f "$work/pg/data/postmaster.pid" ] && kill -INT "$(head -1 "$work/pg/data/postmaster.pid")" 2>/dev/null || true
  [ -f "$work/redis.pid" ] && kill "$(cat "$work/redis.pid")" 2>/dev/null || true
  sleep 1
  rm -rf "$work"
}
trap cleanup EXIT
# The presence measures hold 10,000 sockets in the bench and in each node.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

freeport() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

# ---- PostgreSQL and Redis (the recipe of shared/notes, as the tests do) ----
pgbin=$(pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)
pgport=$(freeport)
mkdir -p "$work/pg" "$work/sock"
as_pg=()
if [ "$(id -u)" -eq 0 ]; then chown -R postgres:postgres "$work"; as_pg=(runuser -u postgres --); fi
"${as_pg[@]}" "$pgbin/initdb" -D "$work/pg/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
"${as_pg[@]}" "$pgbin/pg_ctl" -D "$work/pg/data" -l "$work/pg.log" -w -t 30 \
  -o "-p $pgport -k $work/sock -c listen_addresses=127.0.0.1" start >/dev/null
redisport=$(freeport)
redis-server --port "$redisport" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
  --pidfile "$work/redis.pid" --logfile "$work/redis.log" --dir "$work" >/dev/null
until redis-cli -p "$redisport" ping 2>/dev/null | grep -q PONG; do sleep 0.05; done
# new_database NAME: an empty database; prints its URL.
new_database() {
  psql -h 127.0.0.1 -p "$pgport" -U postgres -qc "CREATE DATABASE $1" >/dev/null
  echo "postgres://postgres@127.0.0.1:$pgport/$1"
}

# start_node NAME [ENV=VALUE...]: a fresh node; sets NODE_PORT and NODE_PID
start_node() {
  local name=$1
  shift
  mkdir -p "$work/$name"
  env CHATRIX_DATA_DIR="$work/$name/data" SERVER_PORT=127.0.0.1:0 CHATRIX_PORT_FILE="$work/$name/port" \
    ARGON2_PROFILE=min LOG_LEVEL=warn JWT_SECRET=bench-secret-0123456789 "$@" \
    "$build/bin/chatrix" >"$work/$name/log" 2>&1 &
  NODE_PID=$!
  pids+=("$NODE_PID")
  for _ in $(seq 1 200); do [ -s "$work/$name/port" ] && break; sleep 0.05; done
  NODE_PORT=$(cat "$work/$name/port")
}
stop_node() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# measure KEY [bench args...]: RUNS runs, each against the nodes set up by the caller's
# setup_KEY function, JSON lines appended to OUT/KEY.jsonl.
bench() { "$build/bin/chatrix-bench" "$@" --json | tail -n 1; }

run_sqlite() {
  start_node "sqlite$1"
  bench --url "ws://127.0.0.1:$NODE_PORT/ws" "${@:2}"
  stop_node "$NODE_PID"
}
run_pg() {
  local url
  url=$(new_database "pg$1")
  start_node "pg$1" DB_CONNECTION_URL="$url"
  bench --url "ws://127.0.0.1:$NODE_PORT/ws" "${@:2}"
  stop_node "$NODE_PID"
}
run_cluster() {
  local url p1 p2 n1 n2
  url=$(new_database "cluster$1")
  # A new cluster: its Redis starts empty too. The login limits live there (shared by the
  # nodes), and a fresh database with the last run's counts would refuse the 200 new users.
  redis-cli -p "$redisport" flushall >/dev/null
  start_node "c1_$1" DB_CONNECTION_URL="$url" REDISADDR="127.0.0.1:$redisport"
  p1=$NODE_PORT n1=$NODE_PID
  start_node "c2_$1" DB_CONNECTION_URL="$url" REDISADDR="127.0.0.1:$redisport"
  p2=$NODE_PORT n2=$NODE_PID
  bench --url "ws://127.0.0.1:$p1/ws" --url2 "ws://127.0.0.1:$p2/ws" "${@:2}"
  stop_node "$n1"
  stop_node "$n2"
}
run_idle() {
  # The connection-storm measure lifts the per-address limits: its 15,000 connections come
  # from 16 loopback addresses, each opening ~470/s (CONNECT_LIMIT is 300/s), up to 256 at a
  # time before they authenticate; its 1,875 users register from one address (REGISTER_LIMIT).
  # The message measures run with every default.
  start_node "idle$1" CONNECT_LIMIT=0 ADDRESS_CONNECTIONS=0 UNAUTHENTICATED_PER_ADDRESS=0 UNAUTHENTICATED_TOTAL=0 \
    REGISTER_LIMIT=0
  bench --url "ws://127.0.0.1:$NODE_PORT/ws" --server-pid "$NODE_PID" "${@:2}"
  stop_node "$NODE_PID"
}

# Presence (docs/performance.md, "What presence costs"): 5,000 pairs = 10,000 users, each pair
# sharing a conversation, PRESENCE_GRACE 1 s; one node, then two nodes with the leaver of each
# pair on one and the watcher on the other. Lifts the per-address limits as run_idle does, and
# needs 10,000 descriptors in the bench and in each node (ulimit -n 20000).
presence_env=(PRESENCE_GRACE=1s CONNECT_LIMIT=0 ADDRESS_CONNECTIONS=0 UNAUTHENTICATED_PER_ADDRESS=0
  UNAUTHENTICATED_TOTAL=0 REGISTER_LIMIT=0)
run_presence_one() {
  local url
  url=$(new_database "p1_$1")
  start_node "p1_$1" DB_CONNECTION_URL="$url" "${presence_env[@]}"
  bench --url "ws://127.0.0.1:$NODE_PORT/ws" --pids "$NODE_PID" "${@:2}"
  stop_node "$NODE_PID"
}
run_presence_cluster() {
  local url p1 p2 n1 n2
  url=$(new_database "p2_$1")
  redis-cli -p "$redisport" flushall >/dev/null
  start_node "p2a_$1" DB_CONNECTION_URL="$url" REDISADDR="127.0.0.1:$redisport" "${presence_env[@]}"
  p1=$NODE_PORT n1=$NODE_PID
  start_node "p2b_$1" DB_CONNECTION_URL="$url" REDISADDR="127.0.0.1:$redisport" "${presence_env[@]}"
  p2=$NODE_PORT n2=$NODE_PID
  bench --url "ws://127.0.0.1:$p1/ws" --url2 "ws://127.0.0.1:$p2/ws" --pids "$n1,$n2,$(cat "$work/redis.pid")" "${@:2}"
  stop_node "$n1"
  stop_node "$n2"
}

load=(--pairs 100 --window 16 --duration 10)
measures=(
  "sqlite_closed|run_sqlite|${load[*]}"
  "postgres_closed|run_pg|${load[*]}"
  "cluster_closed|run_cluster|${load[*]}"
  "open_25000|run_sqlite|--pairs 100 --rate 25000 --warmup 2 --duration 8"
  "idle_latency|run_sqlite|--pairs 1 --window 1 --duration 5"
  "idle_15000|run_idle|--idle 15000 --threads 2"
  "presence_one|run_presence_one|--presence 5000 --http-concurrency 8"
  "presence_cluster|run_presence_cluster|--presence 5000 --http-concurrency 8"
)
for m in "${measures[@]}"; do
  IFS='|' read -r key fn args <<<"$m"
  if [ -n "${ONLY:-}" ] && [[ " $ONLY " != *" $key "* ]]; then continue; fi
  : >"$out/$key.jsonl"
  for r in $(seq 1 "$runs"); do
    # shellcheck disable=SC2086
    "$fn" "$key$r" $args >>"$out/$key.jsonl"
    echo "$key run $r: $(tail -n 1 "$out/$key.jsonl")" >&2
  done
done

python3 - "$out" <<'PY'
import json, pathlib, statistics, sys
out = pathlib.Path(sys.argv[1])
def runs(key):
    f = out / f"{key}.jsonl"
    return [json.loads(l) for l in f.read_text().splitlines() if l.strip()] if f.exists() else []
def median_by(key, field):
    rs = sorted(runs(key), key=lambda r: r[field])
    return rs[len(rs) // 2], [r[field] for r in runs(key)]
rows = []
for key, label in [("sqlite_closed", "one node, SQLite, 100 pairs x 16 in flight"),
                   ("postgres_closed", "one node, PostgreSQL, 100 pairs x 16 in flight"),
                   ("cluster_closed", "two PostgreSQL nodes via Redis, senders on one, recipients on the other")]:
    if not runs(key): continue
    m, all_ = median_by(key, "acked_per_s")
    rows.append((label, f"{m['acked_per_s']:,.0f} msg/s (runs: {', '.join(f'{x:,.0f}' for x in all_)}), "
                        f"p99 ack {m['ack_p99_ms']:.0f} ms, lost {m['lost']}, dup {m['duplicates']}"))
if runs("open_25000"):
    m, _ = median_by("open_25000", "deliver_p99_ms")
    rows.append(("open loop 25,000 msg/s: p99 send->deliver / send->DELIVERED",
                 f"{m['deliver_p99_ms']:.1f} / {m['ack_p99_ms']:.1f} ms (acked {m['acked_per_s']:,.0f}/s), lost {m['lost']}"))
if runs("idle_latency"):
    m, all_ = median_by("idle_latency", "deliver_p50_ms")
    rows.append(("one message on an idle server, p50 send->deliver",
                 f"{m['deliver_p50_ms']:.3f} ms (p50 ack {m['ack_p50_ms']:.3f} ms; runs: {', '.join(f'{x:.3f}' for x in all_)})"))
if runs("idle_15000"):
    m, all_ = median_by("idle_15000", "bytes_per_connection")
    rows.append(("memory per authenticated idle connection, 15,000 connections",
                 f"{m['bytes_per_connection']:,.0f} bytes (runs: {', '.join(f'{x:,.0f}' for x in all_)})"))
    m, all_ = median_by("idle_15000", "connect_per_s")
    rows.append(("connect + authenticate", f"{m['connect_per_s']:,.0f}/s (runs: {', '.join(f'{x:,.0f}' for x in all_)})"))
for key, label in [("presence_one", "presence, one node: 10,000 users online then 5,000 offline"),
                   ("presence_cluster", "presence, two nodes: 10,000 users online then 5,000 offline")]:
    if not runs(key): continue
    m, _ = median_by(key, "cpu_connect_s")
    rows.append((label, f"attach {m['connect_per_s']:,.0f}/s, CPU {m['cpu_connect_s']:.2f} s on / {m['cpu_leave_s']:.2f} s off, "
                        f"frames {m['frames_connect']} / {m['frames_disconnect']}, last offline +{m['last_offline_s']:.2f} s"))
print("| measure | result |\n|---|---|")
for label, value in rows:
    print(f"| {label} | {value} |")
PY
