"""The checks every ServiceSpec must pass (the types are in services.py).

`validate` and `validate_catalogue` list every problem of every spec at once;
`validate_catalogue` raises them as one SpecError. Rules a spec must follow:
- env holds plain values only; a secret goes in `secrets` and reaches the
  process as a file under /run/secrets, named by a `*_FILE` variable.
- every service has a health check: Traefik routes only to healthy containers
  and the Docker provider waits for health before it removes the old one.
- host paths live under /srv/data (the EBS data volume); the few system paths
  monitoring and Traefik read (docker socket, /proc, /sys...) are read-only and
  need a written reason in `host_access`.
- `privileged` needs a written reason.
- a service that publishes a host port cannot be replaced create-before-delete:
  the new container could not bind the port while the old one holds it.
- a `host_network` service (node-exporter) shares the host's network namespace:
  it joins no Docker network, has no route, needs a written reason in
  `host_access` and is replaced delete-first (it binds the host's own port).
  Its scrape target is `host.docker.internal:<port>`, which a `host_gateway`
  service (Prometheus) resolves to the host.
- a create-first service mounts nothing writable (named volume or host path):
  the old and new containers would share it during the replacement, and a
  single-writer store (Prometheus' TSDB lock, a SQLite file) refuses the second.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from components.workload.services import (
    DATA_ROOT,
    HOST_GATEWAY_NAME,
    NETWORKS,
    SECRETS_DIR,
    HealthCheck,
    ServiceSpec,
    SpecError,
    duration_seconds,
)

# Read-only system paths a monitoring agent or Traefik may mount, with a reason.
SYSTEM_PATHS = frozenset({"/", "/proc", "/sys", "/var/run", "/var/run/docker.sock", "/var/lib/docker", "/dev/disk"})
ENTRYPOINTS = {"app": 3000, "cms": 8055}
RESTART_POLICIES = ("unless-stopped", "always", "on-failure", "no")
_NAME = re.compile(r"[a-z][a-z0-9-]{0,40}")
_SECRET_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")
# The secret word ends the name: a word after it names a setting about the secret
# (Directus's REFRESH_TOKEN_COOKIE_SECURE, ACCESS_TOKEN_TTL, PASSWORD_RESET_URL_ALLOW_LIST).
_SECRET_LIKE = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKENS?|PRIVATE_KEY|ACCESS_KEY|CREDENTIALS?)$", re.IGNORECASE)
_DURATION = re.compile(r"[0-9]+(ms|s|m)")


def validate(spec: ServiceSpec) -> list[str]:
    """Every problem of one spec, each naming the service, the field and the fix."""
    p: list[str] = []
    n = spec.name
    if not _NAME.fullmatch(n):
        p.append(f"{n!r}: name must be a lower-case DNS label (a-z, 0-9, -)")
    if not spec.image.tag or spec.image.tag == "latest":
        p.append(f"{n}: image tag must be a pinned version or sha256 digest, not {spec.image.tag!r}")
    if spec.health is None:
        p.append(f"{n}: missing health check: give the spec a HealthCheck (Traefik and updates rely on it)")
    elif not spec.health.test or not all(_DURATION.fullmatch(d) for d in _durations(spec.health)):
        p.append(f"{n}: health check needs a command and durations such as 10s")
    elif duration_seconds(spec.health.start_period) < duration_seconds(spec.health.interval):
        # The engine runs the first probe one interval after the start: a shorter start
        # period covers no probe, and a slow first start counts as failures.
        p.append(
            f"{n}: health start_period {spec.health.start_period} is shorter than its interval "
            f"{spec.health.interval}; make it at least the interval"
        )
    p += _env_problems(spec)
    p += _volume_problems(spec)
    p += _host_network_problems(spec)
    for net in spec.networks:
        if net not in NETWORKS:
            p.append(f"{n}: unknown network {net!r}; networks are {', '.join(NETWORKS)}")
    for route in spec.routing:
        if route.entrypoint not in ENTRYPOINTS:
            p.append(f"{n}: routing entrypoint {route.entrypoint!r} must be one of {', '.join(ENTRYPOINTS)}")
        if "edge" not in spec.networks:
            p.append(f"{n}: a routed service must join the edge network (Traefik reaches it there)")
    if spec.metrics and spec.metrics.auth != "none" and spec.metrics.credentials not in spec.secrets:
        p.append(f"{n}: metrics auth {spec.metrics.auth!r} needs credentials naming one of its secrets")
    if spec.privileged and len(spec.privileged_reason.strip()) < 20:
        p.append(f"{n}: privileged needs privileged_reason: a written justification of why")
    if spec.ports and spec.replacement == "create-first":
        p.append(f"{n}: publishes host ports, so it must use replacement='delete-first' (the port is held)")
    if spec.replacement == "create-first":
        for v in spec.volumes:
            if not v.read_only:
                p.append(
                    f"{n}: replacement is create-first but mounts {v.source} writable: the old and new "
                    "containers would share it; use replacement='delete-first' or mount it read_only"
                )
    if spec.memory_mb < 16 or spec.cpus <= 0:
        p.append(f"{n}: memory_mb (>= 16) and cpus (> 0) limits are required")
    if spec.restart not in RESTART_POLICIES:
        p.append(f"{n}: restart must be one of {', '.join(RESTART_POLICIES)}")
    if spec.replacement == "delete-first" and spec.stop_grace_seconds < 10:
        p.append(f"{n}: delete-first services need stop_grace_seconds >= 10 for a clean shutdown")
    for path in spec.config_files:
        if not path.startswith("/") or path.startswith(SECRETS_DIR):
            p.append(f"{n}: config file {path!r} must be an absolute path outside {SECRETS_DIR}")
    return p


def _host_network_problems(spec: ServiceSpec) -> list[str]:
    if not spec.host_network:
        return []
    n = spec.name
    p: list[str] = []
    if spec.networks:
        p.append(f"{n}: host_network joins no Docker network; remove networks {', '.join(spec.networks)}")
    if spec.routing or spec.ports:
        p.append(f"{n}: host_network cannot be routed or publish ports; Traefik and -p reach Docker networks only")
    if len(spec.host_access.strip()) < 20:
        p.append(f"{n}: host_network needs host_access: a written reason to share the host's network")
    if spec.replacement == "create-first":
        p.append(f"{n}: host_network binds the host's ports, so it must use replacement='delete-first'")
    return p


def _durations(h: HealthCheck) -> tuple[str, ...]:
    return (h.interval, h.timeout, h.start_period)


def _env_problems(spec: ServiceSpec) -> list[str]:
    p: list[str] = []
    n = spec.name
    for key, value in spec.env.items():
        if _SECRET_LIKE.search(key) and not key.endswith("_FILE"):
            p.append(f"{n}: secret in env: {key} looks like a secret; deliver it with secrets + {key}_FILE")
        elif key.endswith("_FILE") and isinstance(value, str) and value.startswith(SECRETS_DIR):
            p.append(f"{n}: env {key} points at a secret file; declare it in secret_env instead")
    for secret in spec.secrets:
        if not _SECRET_NAME.fullmatch(secret):
            p.append(f"{n}: secret name {secret!r} must be lower-case letters, digits and _")
    for var, secret in spec.secret_env.items():
        if not var.endswith("_FILE"):
            p.append(f"{n}: secret_env {var} must end in _FILE (the process reads the file it names)")
        if secret not in spec.secrets:
            p.append(f"{n}: secret_env {var} names unknown secret {secret!r}")
        if var in spec.env:
            p.append(f"{n}: {var} is set both in env and secret_env")
    return p


def _volume_problems(spec: ServiceSpec) -> list[str]:
    p: list[str] = []
    n = spec.name
    for v in spec.volumes:
        if not v.target.startswith("/"):
            p.append(f"{n}: volume target {v.target!r} must be an absolute path")
        if not v.is_host_path:
            if not _NAME.fullmatch(v.source):
                p.append(f"{n}: named volume {v.source!r} must be a lower-case DNS label")
            continue
        if v.source == DATA_ROOT or v.source.startswith(DATA_ROOT + "/"):
            if ".." in v.source.split("/"):
                p.append(f"{n}: host path {v.source} must not contain '..'")
            continue
        if v.source in SYSTEM_PATHS and v.read_only and spec.host_access.strip():
            continue
        if v.source in SYSTEM_PATHS:
            p.append(f"{n}: system path {v.source} must be read_only and explained in host_access")
        else:
            p.append(
                f"{n}: host path {v.source} is outside {DATA_ROOT}; use a path under {DATA_ROOT} or a named volume"
            )
    return p


def validate_catalogue(specs: Sequence[ServiceSpec], memory_budget_mb: int | None = None) -> None:
    """Raise SpecError listing every problem of every spec and of the set as a whole."""
    problems = [problem for spec in specs for problem in validate(spec)]
    names = [s.name for s in specs]
    for dup in sorted({x for x in names if names.count(x) > 1}):
        problems.append(f"{dup}: two specs have this name")
    for spec in specs:
        for dep in spec.depends_on:
            if dep not in names:
                problems.append(f"{spec.name}: depends_on {dep!r}, which is not a service of the stack")
    host_ports = [port.host for s in specs for port in s.ports]
    for dup in sorted({x for x in host_ports if host_ports.count(x) > 1}):
        problems.append(f"host port {dup} is published by more than one service")
    routes = [(r.entrypoint, r.host) for s in specs for r in s.routing]
    for dup in sorted({x for x in routes if routes.count(x) > 1}, key=str):
        problems.append(f"route {dup[0]} host {dup[1] or '*'} is claimed by more than one service")
    unreachable = [s.name for s in specs if s.host_network and s.metrics]
    if unreachable and not any(s.host_gateway for s in specs):
        problems.append(
            f"{', '.join(unreachable)}: scraped at {HOST_GATEWAY_NAME}, but no service resolves "
            f"{HOST_GATEWAY_NAME}; give the scraper host_gateway=True"
        )
    if memory_budget_mb is not None:
        total = sum(s.memory_mb for s in specs)
        if total > memory_budget_mb:
            problems.append(
                f"memory limits add up to {total} MiB, over the host's budget of {memory_budget_mb} MiB; "
                "lower a limit or choose a larger instanceType"
            )
    if problems:
        raise SpecError(problems)
