"""The host's Docker Engine pin and the Traefik versions whose Docker provider works with it.

One table, read by the host's user data (components/aws/host.py installs the engine from
Docker's apt repository at exactly this version and holds it) and by the catalogue's
Traefik pin; `check_fits` refuses a pair that does not work together.

Why a table: Docker Engine 29 refuses API versions older than 1.44, and Traefik's Docker
provider before v3.6.1 starts at API 1.24, so it finds no container on Engine 29 or later
and no route works ("client version 1.24 is too old", traefik/traefik#12253). v3.6.1
negotiates the version with the engine.
"""

from __future__ import annotations

# Docker Engine (docker-ce and docker-ce-cli from Docker's apt repository), held on the host:
# a new engine comes with a new pin here and a new host, never from unattended upgrades.
DOCKER_ENGINE = "28.5.2"

# Traefik release -> the newest Docker Engine major its Docker provider works with
# (None: no known limit, it negotiates the API version).
TRAEFIK_ENGINE_LIMIT: dict[str, int | None] = {
    "v3.3.5": 28,
    "v3.5.3": 28,
    "v3.6.0": 28,
    "v3.6.1": None,
}


def docker_apt_version(engine: str, ubuntu_release: str) -> str:
    """The apt version string of an engine release, e.g. 5:28.5.2-1~ubuntu.24.04~noble for noble-24.04."""
    codename, number = ubuntu_release.split("-", 1)
    return f"5:{engine}-1~ubuntu.{number}~{codename}"


def engine_of(apt_version: str) -> str:
    """The engine release in an apt version string: 5:28.5.2-1~ubuntu.24.04~noble -> 28.5.2."""
    return apt_version.split(":", 1)[-1].split("-", 1)[0]


def fits(traefik: str, engine: str) -> bool:
    """Whether Traefik `traefik` (e.g. v3.6.1) routes containers on Docker Engine `engine` (e.g. 28.5.2)."""
    if traefik not in TRAEFIK_ENGINE_LIMIT:
        return False  # unknown until someone checks it and adds it to the table
    limit = TRAEFIK_ENGINE_LIMIT[traefik]
    return limit is None or int(engine.split(".")[0]) <= limit


def check_fits(traefik: str, engine: str = DOCKER_ENGINE) -> None:
    if not fits(traefik, engine):
        known = ", ".join(f"{t} (engine <= {limit or 'any'})" for t, limit in TRAEFIK_ENGINE_LIMIT.items())
        raise ValueError(
            f"Traefik {traefik} does not fit Docker Engine {engine}: pick one of {known} "
            "in components/engine_versions.py (traefik/traefik#12253)"
        )
