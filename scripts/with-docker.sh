#!/usr/bin/env bash
# Runs a command with a Docker engine answering: uses the one that runs, or starts
# dockerd (Debian's docker.io) for the command's duration and stops it afterwards,
# even when the command fails. Only an engine this script started is stopped.
#
# Storage driver of an engine it starts: overlay2 where the kernel and the sandbox allow
# it, else vfs. overlay2 shares image layers between containers; vfs copies an image's
# whole filesystem for every build step and every container (a 1 GB image costs tens of
# seconds each time) but works on any filesystem and where overlay mounts are refused.
# overlay2 is kept only if dockerd starts with it and runs a container (a one-file image
# of the static docker-init that docker.io ships, imported and removed again); otherwise
# that dockerd is stopped and a vfs one started. The choice is printed.
#   DOCKER_STORAGE_DRIVER  use this driver, no fallback (e.g. vfs)
#   DOCKER_DATA_ROOT       dockerd's --data-root (default /var/lib/docker); an empty
#                          directory gives a fresh machine's engine (no images, no cache)
# Images built on one driver are not seen by the other: the first run after a change of
# driver builds them again.
set -euo pipefail

if [ $# -eq 0 ]; then
  echo "usage: $0 COMMAND [ARG...]" >&2
  exit 2
fi
if docker info >/dev/null 2>&1; then
  exec "$@"
fi
if ! command -v dockerd >/dev/null; then
  echo "error: no Docker engine runs and dockerd is missing: apt-get install docker.io (scripts/install-system-deps.sh)" >&2
  exit 2
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "error: no Docker engine runs and starting dockerd needs root: sudo dockerd --storage-driver=vfs &" >&2
  exit 2
fi

log="${TMPDIR:-/tmp}/quintas-dockerd.log"
pid=""
stop_engine() {
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=""
  fi
}
trap stop_engine EXIT

# Starts dockerd with storage driver $1 and waits up to 60 s for it to answer; 1 if it does not.
start_engine() {
  local args=(--storage-driver="$1")
  if [ -n "${DOCKER_DATA_ROOT:-}" ]; then
    args+=(--data-root="$DOCKER_DATA_ROOT")
  fi
  dockerd "${args[@]}" >"$log" 2>&1 &
  pid=$!
  for _ in $(seq 60); do
    docker info >/dev/null 2>&1 && return 0
    if ! kill -0 "$pid" 2>/dev/null; then
      wait "$pid" 2>/dev/null || true
      pid=""
      reason="dockerd exited at start: $(tail -1 "$log")"
      return 1
    fi
    sleep 1
  done
  reason="dockerd did not answer within 60 s (log: $log)"
  return 1
}

# Runs a container on the engine: creating its filesystem is what a storage driver can fail at.
runs_a_container() {
  local init tmp ref="quintas-with-docker/storage-probe:1" ok=1
  init="$(command -v docker-init || true)"
  if [ -z "$init" ]; then
    reason="no docker-init (tini-static) to probe with"
    return 1
  fi
  tmp="$(mktemp -d)"
  cp -L "$init" "$tmp/init"
  if tar -C "$tmp" -c init | docker import - "$ref" >/dev/null 2>&1 &&
    docker run --rm --network none "$ref" /init --version >/dev/null 2>"$tmp/err"; then
    ok=0
  else
    reason="a container did not run: $(tail -1 "$tmp/err" 2>/dev/null || echo 'docker import failed')"
  fi
  docker image rm -f "$ref" >/dev/null 2>&1 || true
  rm -rf "$tmp"
  return "$ok"
}

reason=""
if [ -n "${DOCKER_STORAGE_DRIVER:-}" ]; then
  driver="$DOCKER_STORAGE_DRIVER"
  if ! start_engine "$driver"; then
    echo "error: $reason" >&2
    tail -5 "$log" >&2
    exit 1
  fi
else
  driver=overlay2
  if ! { start_engine overlay2 && runs_a_container; }; then
    echo "docker: overlay2 storage driver unusable here ($reason); falling back to vfs"
    stop_engine
    driver=vfs
    if ! start_engine vfs; then
      echo "error: $reason" >&2
      tail -5 "$log" >&2
      exit 1
    fi
  fi
fi
echo "docker: started dockerd $(docker info --format '{{.ServerVersion}}') (storage driver $driver${DOCKER_DATA_ROOT:+, data root $DOCKER_DATA_ROOT}) for this run"
"$@"
