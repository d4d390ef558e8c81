#!/usr/bin/env bash
# Installs the Debian packages whose real tools and servers the tests use:
# PostgreSQL 15 + PostGIS 3 (backup drill), promtool, amtool and
# blackbox-exporter --config.check (monitoring),
# cloud-init (user data schema), shellcheck (scripts), docker-compose (Compose file),
# e2fsprogs + util-linux (the data-volume mount script, run on loop-mounted images),
# barman-cli-cloud (the backup drill's archive_command and restore,
# run by the postgres user, so from the system Python rather than the virtualenv),
# docker.io + mmdebstrap (the rehearsal: a Docker engine and the stand-in images'
# Debian bases), openssh-server (the rehearsal's Docker-over-SSH deploy path),
# graphviz (`dot` draws the stack diagram, python -m ops graph).
set -euo pipefail

packages=(
  postgresql-15 postgresql-15-postgis-3
  prometheus prometheus-alertmanager prometheus-blackbox-exporter
  cloud-init shellcheck docker-compose
  tzdata curl
  e2fsprogs util-linux
  barman-cli-cloud
  docker.io mmdebstrap openssh-server openssh-client
  graphviz
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: all present"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "installing: ${missing[*]}"
$sudo apt-get update -q
# Packaged services must not start on install: the tests start their own on free ports.
printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
$sudo chmod +x /usr/sbin/policy-rc.d
trap '$sudo rm -f /usr/sbin/policy-rc.d' EXIT
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
