#!/usr/bin/env bash
# Runs a command with a Docker engine answering: uses the one that runs, or starts
# dockerd (Debian's docker.io) for the command's duration and stops it afterwards,
# even when the command fails. Only an engine this script started is stopped.
# The vfs storage driver works on any filesystem and inside other sandboxes, where
# overlay mounts may be refused; set DOCKER_STORAGE_DRIVER to choose another.
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
dockerd --storage-driver="${DOCKER_STORAGE_DRIVER:-vfs}" >"$log" 2>&1 &
pid=$!
stop_engine() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
trap stop_engine EXIT
for _ in $(seq 60); do
  docker info >/dev/null 2>&1 && break
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "error: dockerd exited at start; its log ($log) ends with:" >&2
    tail -5 "$log" >&2
    exit 1
  fi
  sleep 1
done
docker info >/dev/null 2>&1 || { echo "error: dockerd did not answer within 60 s (log: $log)" >&2; exit 1; }
echo "docker: started dockerd $(docker info --format '{{.ServerVersion}}') (storage driver ${DOCKER_STORAGE_DRIVER:-vfs}) for this run"
"$@"
