#!/usr/bin/env bash
# Runs each libFuzzer target for a while on a copy of its seed corpus and fails on any crash,
# leak, timeout or out-of-memory (`make fuzz`; docs/security.md, "Fuzzing").
#   run-fuzz.sh BIN_DIR SECONDS TARGET...     e.g. run-fuzz.sh build-fuzz/fuzz 60 jwt resp
# Target T is BIN_DIR/fuzz_T with the seeds of fuzz/corpus/T/ and the dictionary fuzz/T.dict
# when there is one. The committed corpus is never written: what a run learns stays in its
# temporary copy. A failing input is kept in BIN_DIR/artifacts/T/ (rerun: BIN_DIR/fuzz_T FILE).
set -euo pipefail
bin=$(realpath "$1")
seconds=$2
shift 2
src=$(realpath "$(dirname "$0")/../fuzz")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

failed=()
printf '%-12s %8s %10s %8s  %s\n' target seconds execs/s corpus result
for t in "$@"; do
  cp -r "$src/corpus/$t" "$work/$t"
  mkdir -p "$bin/artifacts/$t"
  dict=()
  [ -f "$src/$t.dict" ] && dict=(-dict="$src/$t.dict")
  # -timeout: one input running 10 s is a hang; -rss_limit_mb also caps single allocations.
  # Leaks are checked at the end of every input that grew memory (LeakSanitizer, on by default).
  status=0
  "$bin/fuzz_$t" "${dict[@]}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$bin/artifacts/$t/" "$work/$t" >"$work/$t.log" 2>&1 || status=$?
  execs=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/$t.log")
  units=$(find "$work/$t" -type f | wc -l)
  if [ "$status" -eq 0 ]; then
    result=ok
  else
    result="FAILED (exit $status; input in $bin/artifacts/$t/)"
    failed+=("$t")
  fi
  printf '%-12s %8s %10s %8s  %s\n' "$t" "$seconds" "${execs:-?}" "$units" "$result"
  if [ "$status" -ne 0 ]; then
    echo "---- last lines of fuzz_$t's log ----"
    tail -n 60 "$work/$t.log"
    echo "----"
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzzing failed: ${failed[*]}" >&2
  exit 1
fi
