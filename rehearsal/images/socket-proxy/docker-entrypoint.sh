#!/bin/sh
# The docker-socket-proxy entrypoint contract: the built-in template gets its bind address
# (IPv4 and IPv6, or IPv4 only with DISABLE_IPV6) and is written to /tmp/haproxy.cfg; a
# first argument that is a flag means `haproxy <flags>`; haproxy runs in the foreground as
# a master-worker (-W -db). Any other command runs as given.
set -e

case "$(echo "${DISABLE_IPV6:-0}" | tr '[:upper:]' '[:lower:]')" in
    1 | true | yes) bind=':2375' ;;
    *) bind='[::]:2375 v4v6' ;;
esac
sed "s/\${BIND_CONFIG}/$bind/g" /usr/local/etc/haproxy/haproxy.cfg.template > /tmp/haproxy.cfg

case "$1" in
    -*) set -- haproxy "$@" ;;
esac
if [ "$1" = haproxy ]; then
    shift
    set -- haproxy -W -db "$@"
fi
exec "$@"
