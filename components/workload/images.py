"""Every upstream image the stack runs, pinned in one place.

The catalogues (catalogue.py, catalogue_monitoring.py) take their images from
here, and ops compose its local AWS server. The project's own images (frontend,
postgres) are not here: they come from its ECR repositories with the tags of the
`imageTags` setting. The rehearsal builds stand-ins tagged with exactly these
references (rehearsal/images.py), so changing a pin here changes the plan and
what the rehearsal builds.
"""

from __future__ import annotations

from components.workload.services import Image

UPSTREAM = {
    # The application tier.
    # v3.6.1+: its Docker provider negotiates the engine's API (components/engine_versions.py).
    "traefik": ("traefik", "v3.6.1"),
    # Traefik's only way to the Docker API: HAProxy allowing the provider's read calls (catalogue.py).
    "socket-proxy": ("tecnativa/docker-socket-proxy", "v0.4.2"),
    # Directus runs the official image: CD no longer builds one with extensions (none ships
    # yet, and a named volume over /directus/extensions would hide them); its ECR repository
    # stays until its old images are deleted, and gets its own imageTags key if an extended
    # image ever returns.
    "directus": ("directus/directus", "11.12.0"),
    "redis": ("redis", "7.4.2-alpine"),
    # Monitoring.
    "prometheus": ("prom/prometheus", "v3.2.1"),
    "alertmanager": ("prom/alertmanager", "v0.28.1"),
    "grafana": ("grafana/grafana", "11.5.2"),
    "node-exporter": ("prom/node-exporter", "v1.9.0"),
    "cadvisor": ("gcr.io/cadvisor/cadvisor", "v0.49.2"),
    "postgres-exporter": ("quay.io/prometheuscommunity/postgres-exporter", "v0.17.1"),
    "redis-exporter": ("oliver006/redis_exporter", "v1.69.0-alpine"),
    "blackbox-exporter": ("prom/blackbox-exporter", "v0.26.0"),
}
# Laptops only (ops compose): the one local server for the AWS APIs, at moto's version
# in requirements-dev.txt, the one the tests and the rehearsal's stand-in use.
LOCAL_AWS_IMAGE = "motoserver/moto:5.2.5"


def upstream(name: str) -> Image:
    """The pinned image of the upstream service `name`."""
    repo, tag = UPSTREAM[name]
    return Image(repo, tag)
