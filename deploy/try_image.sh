#!/usr/bin/env bash
# Builds the Dockerfile with podman on a machine that cannot pull registry images, runs it, and checks it:
# /health, /ready, a message round trip with an admin key, the non-root user, the image's HEALTHCHECK, the
# refusal to start without auth, and (with PostgreSQL on the host, see PG_URL) the compose topology
# (migrate, `serve --no-worker`, `worker`) as separate containers. Run as root from anywhere:
#   bash deploy/try_image.sh            # SQLite only
#   PG_URL=auto bash deploy/try_image.sh  # also the compose topology, on a throw-away PostgreSQL (pgserver wheel)
#   PG_URL=postgresql://u:p@127.0.0.1:5432/db bash deploy/try_image.sh   # ... on that server (host network)
#   SKIP_BUILD=1 ...                       # reuse the image built last time
# The base image is a debootstrapped Debian bookworm (python 3.11 + venv) imported as a local image.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-/tmp/honcho-try-image}
BASE=${BASE:-localhost/debian-python3:bookworm}
IMAGE=${IMAGE:-localhost/honcho-server:try}
PORT=${PORT:-18765}
# This sandbox: crun cannot set up cgroups in its hybrid v1/v2 mode, and no process may raise an rlimit
# (CAP_SYS_RESOURCE is dropped), so runc and limits at or below the current ones.
RUNTIME=(--runtime runc)
LIMITS=(--ulimit "nofile=$(ulimit -Hn):$(ulimit -Hn)" --ulimit nproc=4096:4096)
SECRET=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')
say() { printf '\n== %s\n' "$*"; }

need() { command -v "$1" >/dev/null || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$2"; }; }
need podman podman; need runc runc; need debootstrap debootstrap

if ! podman image exists "$BASE"; then
  say "base image $BASE from debootstrap"
  rm -rf "$WORK/rootfs"; mkdir -p "$WORK"
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$WORK/rootfs" \
    http://deb.debian.org/debian >"$WORK/debootstrap.log"
  # The host's extra CAs (an egress proxy here), so pip inside the build reaches PyPI as the host does.
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$WORK/rootfs/usr/local/share/ca-certificates/"
    chroot "$WORK/rootfs" update-ca-certificates >/dev/null
  fi
  rm -rf "$WORK"/rootfs/var/cache/apt/archives/*.deb "$WORK"/rootfs/var/lib/apt/lists/* \
    "$WORK"/rootfs/usr/share/doc/* "$WORK"/rootfs/usr/share/man/* "$WORK"/rootfs/usr/share/locale/*
  tar -C "$WORK/rootfs" -c . | podman import --change 'CMD ["python3"]' \
    --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' - "$BASE" >/dev/null
fi

if [ -z "${SKIP_BUILD:-}" ]; then
  say "build (podman build --format docker keeps HEALTHCHECK, which the OCI format drops)"
  start=$(date +%s)
  podman build "${RUNTIME[@]}" "${LIMITS[@]}" --format docker --network host \
    --build-arg BASE_IMAGE="$BASE" -t "$IMAGE" "$REPO" >"$WORK/build.log" 2>&1 \
    || { tail -30 "$WORK/build.log"; exit 1; }
  echo "built in $(( $(date +%s) - start )) s"
fi
podman images --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E "$BASE|$IMAGE"
podman run --rm "${RUNTIME[@]}" "${LIMITS[@]}" --no-healthcheck --entrypoint du "$IMAGE" -sh /opt/honcho

say "without auth on 0.0.0.0 the server must refuse to start"
set +e
podman run --rm "${RUNTIME[@]}" "${LIMITS[@]}" --no-healthcheck "$IMAGE" >"$WORK/noauth.log" 2>&1; rc=$?
set -e
echo "exit code $rc: $(tail -1 "$WORK/noauth.log")"
[ "$rc" -eq 2 ]

podman rm -f honcho-try >/dev/null 2>&1 || true
podman volume rm -f honcho-try-data >/dev/null 2>&1 || true

say "single container, SQLite in the volume /data"
# Without systemd podman cannot schedule the HEALTHCHECK (it logs "unable to get systemd connection"): it is run
# by hand below with `podman healthcheck run`.
podman run -d --name honcho-try "${RUNTIME[@]}" "${LIMITS[@]}" -p "127.0.0.1:$PORT:8000" \
  -v honcho-try-data:/data -e HONCHO_AUTH__ENABLED=true -e HONCHO_AUTH__JWT_SECRET="$SECRET" "$IMAGE" >/dev/null
trap 'podman logs honcho-try >"$WORK/container.log" 2>&1 || true; podman rm -f honcho-try >/dev/null 2>&1 || true' EXIT

export PORT SECRET
python3 "$REPO/deploy/probe.py" "http://127.0.0.1:$PORT" --wait-searchable

say "user inside the container"
podman exec honcho-try id
podman exec honcho-try python3 -c 'import os; print("data dir", sorted(os.listdir("/data")))'

say "the image's HEALTHCHECK"
# (read from the JSON: the template field names differ between podman versions)
podman image inspect "$IMAGE" | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["Healthcheck"])'
podman healthcheck run honcho-try && echo "healthcheck: exit 0"
podman inspect honcho-try | python3 -c 'import json, sys; state = json.load(sys.stdin)[0]["State"]
health = state.get("Health") or state.get("Healthcheck")
print("health status:", health["Status"], "| last check:", health["Log"][-1])'

say "restart keeps the data (volume)"
podman restart honcho-try >/dev/null
python3 "$REPO/deploy/probe.py" "http://127.0.0.1:$PORT" --expect-existing

podman logs honcho-try >"$WORK/container.log" 2>&1
podman rm -f honcho-try >/dev/null
podman volume rm -f honcho-try-data >/dev/null

# PG_URL=auto: a throw-away PostgreSQL 16 + pgvector from the project venv's pgserver wheel, on TCP with a password
# (as compose's db service), run as the unprivileged user pgserver.
start_local_postgres() {
  local bin password
  bin=$("$REPO/.venv/bin/python" -c 'import os, pgserver; print(os.path.dirname(pgserver.__file__))')/pginstall/bin
  password=$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')
  id pgserver >/dev/null 2>&1 || useradd --system pgserver
  rm -rf "$WORK/pg"; mkdir -p "$WORK/pg"; echo "$password" >"$WORK/pg/pw"; chown -R pgserver "$WORK/pg"
  chmod o+x "$WORK"
  as_pg() { su pgserver -s /bin/sh -c "PGPASSWORD=$password $*"; }
  as_pg "'$bin/initdb' -D '$WORK/pg/data' -U honcho --auth=scram-sha-256 --pwfile='$WORK/pg/pw'" >"$WORK/pg/initdb.log"
  as_pg "'$bin/pg_ctl' -D '$WORK/pg/data' -l '$WORK/pg/log' -w start \
         -o '-c listen_addresses=127.0.0.1 -p 55432 -k $WORK/pg'" >/dev/null
  as_pg "'$bin/createdb' -h 127.0.0.1 -p 55432 -U honcho honcho"
  PG_URL=postgresql://honcho:$password@127.0.0.1:55432/honcho
  PG_BIN=$bin
}
stop_local_postgres() {
  [ -z "${PG_BIN:-}" ] || su pgserver -s /bin/sh -c "'$PG_BIN/pg_ctl' -D '$WORK/pg/data' -m fast stop" >/dev/null
}
remove_topology() {
  for c in honcho-try-api honcho-try-worker; do
    podman logs "$c" >"$WORK/$c.log" 2>&1 || true
    podman rm -f -v "$c" >/dev/null 2>&1 || true
  done
  stop_local_postgres
}
trap remove_topology EXIT
if [ "${PG_URL:-}" = auto ]; then start_local_postgres; fi

if [ -n "${PG_URL:-}" ]; then
  say "compose topology on PostgreSQL (${PG_URL%%:*}://...@${PG_URL##*@}, host network): migrate, api --no-worker, worker"
  ENVS=(-e HONCHO_DB__URL="$PG_URL" -e HONCHO_AUTH__ENABLED=true -e HONCHO_AUTH__JWT_SECRET="$SECRET")
  podman rm -f honcho-try-api honcho-try-worker >/dev/null 2>&1 || true
  podman run --rm "${RUNTIME[@]}" "${LIMITS[@]}" --network host --no-healthcheck "${ENVS[@]}" "$IMAGE" migrate
  podman run -d --name honcho-try-api "${RUNTIME[@]}" "${LIMITS[@]}" --network host "${ENVS[@]}" \
    -e HONCHO_SERVER__PORT="$PORT" "$IMAGE" serve --no-worker --host 0.0.0.0 >/dev/null
  echo "-- the api alone: live, not ready (no worker heartbeat), so its healthcheck fails"
  python3 "$REPO/deploy/probe.py" "http://127.0.0.1:$PORT" --expect-unready
  if podman healthcheck run honcho-try-api; then echo "FAIL: healthy without a worker"; exit 1; fi
  echo "api healthcheck without a worker: $(podman healthcheck run honcho-try-api 2>&1 || true)"
  echo "-- with a worker container"
  podman run -d --name honcho-try-worker "${RUNTIME[@]}" "${LIMITS[@]}" --network host "${ENVS[@]}" \
    --no-healthcheck "$IMAGE" worker >/dev/null
  python3 "$REPO/deploy/probe.py" "http://127.0.0.1:$PORT" --wait-searchable
  podman healthcheck run honcho-try-api && echo "api healthcheck: exit 0"
fi
say "all checks passed"
