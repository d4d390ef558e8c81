#!/bin/sh
# The docker-library/redis entrypoint contract: a first argument that is a flag or a *.conf
# file means `redis-server <args>`; redis-server runs as user redis. Upstream builds Redis
# with protected mode off by default; Debian's keeps it on, so it is turned off here unless
# the arguments or a config file say otherwise.
set -e

case "$1" in
    -* | *.conf) set -- redis-server "$@" ;;
esac

if [ "$1" = redis-server ]; then
    case " $* " in
        *" --protected-mode "* | *.conf" "*) ;;
        *) set -- "$@" --protected-mode no ;;
    esac
    if [ "$(id -u)" = 0 ]; then
        find . \! -user redis -exec chown redis '{}' +
        exec gosu redis "$0" "$@"
    fi
fi

exec "$@"
