#!/bin/sh
# The traefik image's entrypoint contract: a first argument that is a flag, or one of
# traefik's own subcommands, runs `traefik <args>`; any other command runs as given.
set -e

case "$1" in
    -*) set -- traefik "$@" ;;
    healthcheck | version | help) set -- traefik "$@" ;;
esac
exec "$@"
