#!/usr/bin/env bash
# Runs ctest in a sanitizer build (make test-sanitize, make test-tsan) so that any sanitizer
# report fails the run. Usage: ctest-sanitized.sh <build-dir> [ctest arguments...]
#
# Each report goes to <build-dir>/sanitizer-reports/<tool>.<pid>, not to stderr: most reports
# would come from a chatrix server that a test started and stopped, whose log the test
# deletes with its temp dir, and whose exit status the test may not look at. The reports left
# in that directory fail the run and are printed, whatever ctest said.
# UBSan linked with ASan ignores log_path and writes to stderr, which for a server is the
# log in its test's temp dir. So the tests start the server through a wrapper (CHATRIX_BIN)
# that hard-links that log into <build-dir>/sanitizer-reports/server-logs/, then execs the
# server; logs with UBSan's "runtime error:" count as reports, the others are removed. The
# wrapper has its paths written in: the tests pass the server none of our variables.
set -euo pipefail
build_dir=$(cd "$1" && pwd)
shift
reports=$build_dir/sanitizer-reports
rm -rf "$reports"
mkdir -p "$reports/server-logs"

wrapper=$reports/chatrix
cat >"$wrapper" <<WRAPPER
#!/usr/bin/env bash
# exec keeps the pid: the tests' SIGTERM and SIGKILL still reach the server itself.
ln -f "\$(readlink /proc/\$\$/fd/2)" "$reports/server-logs/\$\$" 2>/dev/null || true
exec "$build_dir/bin/chatrix" "\$@"
WRAPPER
chmod +x "$wrapper"
export CHATRIX_BIN=$wrapper

# halt_on_error: the first report ends the process (and fails its test) instead of a log
# line nobody reads. detect_leaks: servers stop with SIGTERM and exit normally, so
# LeakSanitizer checks them too.
export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:log_path=$reports/asan"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$reports/ubsan"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:log_path=$reports/tsan"

status=0
(cd "$build_dir" && ctest "$@") || status=$?

shopt -s nullglob
found=("$reports"/*.*)
for f in "$reports"/server-logs/*; do
  grep -q "runtime error:" "$f" && found+=("$f") || rm "$f"
done
if [ ${#found[@]} -gt 0 ]; then
  for f in "${found[@]}"; do
    echo "==== $f"
    cat "$f"
  done
  echo "ctest-sanitized: ${#found[@]} sanitizer report(s) in $reports"
  exit 1
fi
exit $status
