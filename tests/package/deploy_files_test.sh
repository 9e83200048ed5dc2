#!/usr/bin/env bash
# The Dockerfile, deploy/compose.yaml and deploy/nginx.conf, checked without a Docker engine
# (none runs here): the Dockerfile calls only scripts and make targets that exist and copies
# only files that exist, runs as a non-root user and checks /ready; the compose file's nodes
# share one JWT_SECRET and REDISADDR and are the upstreams nginx proxies to; nginx passes the
# WebSocket upgrade. The compose file's structure is read with python3's yaml module when it
# is there (not a dependency of the suite), its text otherwise.
# Usage: deploy_files_test.sh <source-dir>
set -euo pipefail
src=$1
dockerfile=$src/Dockerfile
compose=$src/deploy/compose.yaml
nginx_conf=$src/deploy/nginx.conf
failures=0

fail() {
  echo "deploy files: $*" >&2
  failures=$((failures + 1))
}

# ---- Dockerfile ----
# Instructions with their continuation lines joined.
instructions=$(sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$dockerfile" | grep -vE '^\s*(#|$)')
grep -qE '^FROM debian:12(-slim)? AS build$' <<<"$instructions" || fail "the build stage is not FROM debian:12 AS build"
[ "$(grep -cE '^FROM ' <<<"$instructions")" -eq 2 ] || fail "expected two stages (build, runtime)"
final_from=$(grep -E '^FROM ' <<<"$instructions" | tail -1)
[[ $final_from =~ ^FROM\ debian:12(-slim)?$ ]] || fail "the runtime stage is '$final_from', not Debian 12"

while read -r script; do
  [ -x "$src/$script" ] || fail "Dockerfile runs $script, which is not an executable file in the tree"
done < <(grep -E '^RUN ' <<<"$instructions" | grep -oE '\./scripts/[A-Za-z0-9_.-]+' | sed 's|^\./||' | sort -u)
while read -r target; do
  grep -qE "^$target:" "$src/Makefile" || fail "Dockerfile runs 'make $target', which the Makefile does not have"
done < <(grep -E '^RUN ' <<<"$instructions" | grep -oE '\bmake [a-z-]+' | awk '{print $2}' | sort -u)
while read -r source; do
  [ "$source" = . ] || [ -e "$src/$source" ] || fail "Dockerfile copies $source, which is not in the tree"
done < <(grep -E '^COPY ' <<<"$instructions" | grep -v -- '--from=' | awk '{for (i = 2; i < NF; i++) print $i}')

user=$(grep -E '^USER ' <<<"$instructions" | tail -1 | awk '{print $2}')
[ -n "$user" ] && [ "$user" != root ] && [ "$user" != 0 ] || fail "the image does not end with a non-root USER (it has '$user')"
grep -qE '^EXPOSE 6969$' <<<"$instructions" || fail "no EXPOSE 6969"
grep -qE '^HEALTHCHECK .*/ready' <<<"$instructions" || fail "no HEALTHCHECK on /ready"
grep -qE '^ENV CHATRIX_DATA_DIR=/' <<<"$instructions" || fail "CHATRIX_DATA_DIR is not an absolute path"
for ignored in build data .env; do
  grep -qx "$ignored" "$src/.dockerignore" || fail ".dockerignore does not leave out $ignored"
done

# ---- compose.yaml ----
mapfile -t nodes < <(grep -oE '^\s*server [a-z0-9]+:6969;' "$nginx_conf" | awk '{print $2}' | cut -d: -f1 | sort)
[ "${#nodes[@]}" -ge 2 ] || fail "nginx proxies to fewer than two nodes: ${nodes[*]}"
if python3 -c 'import yaml' 2>/dev/null; then
  python3 - "$compose" "$src" "${nodes[@]}" <<'PY' || failures=$((failures + 1))
import os, sys, yaml

compose_path, src, nodes = sys.argv[1], sys.argv[2], sys.argv[3:]
services = yaml.safe_load(open(compose_path))["services"]
here = os.path.dirname(compose_path)
problems = []
for name in ("postgres", "redis", "nginx", *nodes):
    if name not in services:
        problems.append(f"no service {name}")
for name, service in services.items():
    for dependency in service.get("depends_on", {}):
        if dependency not in services:
            problems.append(f"{name} depends on {dependency}, which is no service")
    build = service.get("build")
    if build and not os.path.isfile(os.path.join(here, build["context"], build.get("dockerfile", "Dockerfile"))):
        problems.append(f"{name} builds from a Dockerfile that does not exist")
    for volume in service.get("volumes", []):
        source = volume.split(":")[0]
        if source.startswith(".") and not os.path.exists(os.path.join(here, source)):
            problems.append(f"{name} mounts {source}, which does not exist")
environments = [services[n].get("environment", {}) for n in nodes if n in services]
for setting in ("JWT_SECRET", "REDISADDR", "DB_CONNECTION_URL"):
    values = {e.get(setting) for e in environments}
    if len(values) != 1 or None in values:
        problems.append(f"the nodes do not share one {setting}: {values}")
if len({e.get("SERVER_HOST") for e in environments}) != len(nodes):
    problems.append("the nodes' SERVER_HOST values are not distinct")
if not str(environments[0].get("DB_CONNECTION_URL", "")).startswith("postgres://"):
    problems.append("the nodes are not on PostgreSQL")
for problem in problems:
    print(f"deploy files: compose.yaml: {problem}", file=sys.stderr)
sys.exit(1 if problems else 0)
PY
else
  echo "python3 with yaml not installed: compose.yaml is checked by its text only"
  for node in "${nodes[@]}"; do
    grep -qE "^  $node:$" "$compose" || fail "compose.yaml has no service $node"
  done
fi
for service in postgres redis nginx migrate; do
  grep -qE "^  $service:$" "$compose" || fail "compose.yaml has no service $service"
done
grep -qE '^\s+- \./nginx\.conf:/etc/nginx/nginx\.conf:ro$' "$compose" || fail "nginx does not mount deploy/nginx.conf"

# ---- nginx.conf ----
ws_block=$(sed -n '/location = \/ws {/,/}/p' "$nginx_conf")
grep -q 'proxy_set_header Upgrade $http_upgrade;' <<<"$ws_block" || fail "nginx does not pass Upgrade on /ws"
grep -q 'proxy_set_header Connection $connection_upgrade;' <<<"$ws_block" || fail "nginx does not pass Connection: upgrade on /ws"
grep -q 'proxy_http_version 1.1;' <<<"$ws_block" || fail "nginx proxies /ws over HTTP/1.0 (no upgrade possible)"
read_timeout=$(grep -oE 'proxy_read_timeout [0-9]+s' <<<"$ws_block" | grep -oE '[0-9]+')
# The server pings within IDLE_TIMEOUT (default 60 s); a shorter proxy timeout cuts live sockets.
[ -n "$read_timeout" ] && [ "$read_timeout" -gt 60 ] || fail "proxy_read_timeout on /ws is not above 60 s"
grep -q 'proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;' "$nginx_conf" || fail "nginx does not append X-Forwarded-For"

[ "$failures" -eq 0 ] || exit 1
echo "deploy files ok"
