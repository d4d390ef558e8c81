"""ServiceSpec: the typed description of one container, and the checks every spec must pass.

One ServiceSpec drives everything about a service: its docker.Container and
Traefik route (components/workload/containers.py), its Prometheus scrape target
(`scrape_targets`) and its entry in the local Compose file (ops/local/compose.py).
The stack's own services are listed in components/workload/catalogue.py. This file
makes no resources.

Rules a spec must follow (`validate` / `validate_catalogue` raise SpecError
with every problem of every spec at once):
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

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import pulumi

SECRETS_DIR = "/run/secrets"
DATA_ROOT = "/srv/data"
# Read-only system paths a monitoring agent or Traefik may mount, with a reason.
SYSTEM_PATHS = frozenset({"/", "/proc", "/sys", "/var/run", "/var/run/docker.sock", "/var/lib/docker", "/dev/disk"})
# edge: what Traefik routes to, with outbound access. backend: internal, no route out.
# egress: outbound only, nothing routed or published; for postgres, whose WAL archiving
# and base backups (barman-cloud) write to S3.
NETWORKS = ("edge", "backend", "egress")
INTERNAL_NETWORKS = frozenset({"backend"})
ENTRYPOINTS = {"app": 3000, "cms": 8055}
RESTART_POLICIES = ("unless-stopped", "always", "on-failure", "no")
CONFIG_DIGEST_LABEL = "quintas.config-digest"
# The name a `host_gateway` container resolves to the host (Docker's special address
# `host-gateway`); how Prometheus reaches a service in the host's network namespace.
HOST_GATEWAY_NAME = "host.docker.internal"
HOST_GATEWAY_IP = "host-gateway"

_NAME = re.compile(r"^[a-z][a-z0-9-]{0,40}$")
_SECRET_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_SECRET_LIKE = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|PRIVATE_KEY|ACCESS_KEY|CREDENTIAL)", re.IGNORECASE)
_DURATION = re.compile(r"^\d+(ms|s|m)$")

Replacement = Literal["create-first", "delete-first"]


class SpecError(ValueError):
    """Every problem of one or more ServiceSpecs, one per line."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("invalid service specs:\n" + "\n".join(f"  - {p}" for p in self.problems))


@dataclass(frozen=True)
class Image:
    """A container image: repository plus a pinned tag or digest.

    `repository` may be an Output (an ECR repository URL); `local` names the
    image on a developer machine, where ECR is not reachable (ops/local/compose.py).
    """

    repository: pulumi.Input[str]
    tag: str
    local: str | None = None
    build_context: str | None = None  # a directory of this repository with the Dockerfile

    @property
    def ref(self) -> pulumi.Input[str]:
        sep = "@" if self.tag.startswith("sha256:") else ":"
        if isinstance(self.repository, str):
            return f"{self.repository}{sep}{self.tag}"
        return pulumi.Output.concat(self.repository, sep, self.tag)


@dataclass(frozen=True)
class HealthCheck:
    """Docker health check; `test` is the exec form without the leading "CMD"."""

    test: tuple[str, ...]
    interval: str = "15s"
    timeout: str = "5s"
    retries: int = 3
    start_period: str = "30s"

    def seconds_to_healthy(self) -> int:
        """The longest a new container may take to turn healthy: start period plus every retry."""
        return duration_seconds(self.start_period) + self.retries * (
            duration_seconds(self.interval) + duration_seconds(self.timeout)
        )


@dataclass(frozen=True)
class Routing:
    """A Traefik route: requests on `entrypoint` (for `host`, or any host when None) go to `port`.

    Any host: the ALB already routes by host name and its health checks carry
    the target's address as Host, so the app and cms routes must not filter on it.
    """

    entrypoint: Literal["app", "cms"]
    port: int
    host: str | None = None


@dataclass(frozen=True)
class Metrics:
    """Where Prometheus scrapes the service; `auth` is the Authorization scheme of `credentials`."""

    port: int
    path: str = "/metrics"
    auth: Literal["none", "bearer", "metrics"] = "none"
    credentials: str | None = None


@dataclass(frozen=True)
class Volume:
    """A named Docker volume (`source` without a slash) or a host path (`source` absolute)."""

    source: str
    target: str
    read_only: bool = False

    @property
    def is_host_path(self) -> bool:
        return self.source.startswith("/")


@dataclass(frozen=True)
class Port:
    """A host port published on every interface of the host (the security group limits who reaches it)."""

    host: int
    container: int


@dataclass(frozen=True)
class Logs:
    """CloudWatch delivery. non-blocking: a slow CloudWatch never stalls the application's writes."""

    mode: Literal["blocking", "non-blocking"] = "non-blocking"
    max_buffer: str = "4m"


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    image: Image
    health: HealthCheck | None
    memory_mb: int
    cpus: float
    command: tuple[str, ...] = ()
    env: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)  # never secret: checked at deploy too
    secrets: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    secret_env: Mapping[str, str] = field(default_factory=dict)  # FOO_FILE -> secret name
    file_owner: str | None = None  # uid that must read the secret files (the image's user)
    ports: tuple[Port, ...] = ()
    volumes: tuple[Volume, ...] = ()
    networks: tuple[str, ...] = ("backend",)
    routing: tuple[Routing, ...] = ()
    metrics: Metrics | None = None
    # container path -> content; a content may be an Output (Alertmanager's topic ARN).
    config_files: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    restart: str = "unless-stopped"
    logs: Logs = field(default_factory=Logs)
    depends_on: tuple[str, ...] = ()
    replacement: Replacement = "create-first"
    stop_grace_seconds: int = 10
    stop_signal: str | None = None
    shm_size_mb: int | None = None
    pid_host: bool = False
    # Runs in the host's network namespace (no Docker network): what it reports or binds is the host's.
    host_network: bool = False
    # Resolves HOST_GATEWAY_NAME to the host, to reach a host_network service.
    host_gateway: bool = False
    privileged: bool = False
    privileged_reason: str = ""
    host_access: str = ""  # why the service mounts read-only system paths

    def environment(self) -> dict[str, pulumi.Input[str]]:
        """Plain env plus every `*_FILE` variable pointing at its secret file."""
        env: dict[str, pulumi.Input[str]] = dict(self.env)
        env.update({var: secret_path(secret) for var, secret in self.secret_env.items()})
        return dict(sorted(env.items()))

    def config_digest(self) -> pulumi.Input[str]:
        """A digest of the configuration files: a changed file changes the container's label.

        Plain text when every file is; an Output once any content is one.
        """
        paths = sorted(self.config_files)
        contents = [self.config_files[p] for p in paths]
        if all(isinstance(c, str) for c in contents):
            return _digest(paths, [str(c) for c in contents])
        return pulumi.Output.all(*contents).apply(lambda resolved: _digest(paths, [str(c) for c in resolved]))


def _digest(paths: Sequence[str], contents: Sequence[str]) -> str:
    h = hashlib.sha256()
    for path, content in zip(paths, contents, strict=True):
        h.update(path.encode() + b"\0" + content.encode() + b"\0")
    return h.hexdigest()[:16]


def with_config_files(
    specs: Sequence[ServiceSpec], files: Mapping[str, Mapping[str, pulumi.Input[str]]]
) -> list[ServiceSpec]:
    """The specs with more config files added (per service name); unknown service names are an error."""
    unknown = sorted(set(files) - {s.name for s in specs})
    if unknown:
        raise SpecError([f"{n}: config files given for a service that is not in the stack" for n in unknown])
    return [replace(s, config_files={**s.config_files, **files[s.name]}) if s.name in files else s for s in specs]


def secret_path(secret: str) -> str:
    return f"{SECRETS_DIR}/{secret}"


def wget_check(url: str, interval: str = "15s", start_period: str = "30s") -> HealthCheck:
    """A health check for images that ship busybox wget: healthy when `url` answers 2xx."""
    return HealthCheck(("wget", "-q", "-O", "/dev/null", url), interval=interval, start_period=start_period)


def labels(spec: ServiceSpec, stack: str) -> dict[str, pulumi.Input[str]]:
    """The container's labels: identity (image reference, service, stack), config digest and Traefik route.

    A catch-all route (no host) gets the lowest priority, so a host route on the
    same entrypoint (Grafana on `app`) wins for its host.
    """
    out: dict[str, pulumi.Input[str]] = {
        "quintas.image": spec.image.ref,
        "quintas.service": spec.name,
        "quintas.stack": stack,
        CONFIG_DIGEST_LABEL: spec.config_digest(),
    }
    if not spec.routing:
        return out
    out["traefik.enable"] = "true"
    out["traefik.docker.network"] = "edge"
    for route in spec.routing:
        router = f"{spec.name}-{route.entrypoint}"
        prefix = f"traefik.http.routers.{router}"
        out[f"{prefix}.entrypoints"] = route.entrypoint
        out[f"{prefix}.rule"] = f"Host(`{route.host}`)" if route.host else "PathPrefix(`/`)"
        out[f"{prefix}.priority"] = "100" if route.host else "1"
        out[f"{prefix}.service"] = router
        out[f"traefik.http.services.{router}.loadbalancer.server.port"] = str(route.port)
    return out


def validate(spec: ServiceSpec) -> list[str]:
    """Every problem of one spec, each naming the service, the field and the fix."""
    p: list[str] = []
    n = spec.name
    if not _NAME.match(n):
        p.append(f"{n!r}: name must be a lower-case DNS label (a-z, 0-9, -)")
    if not spec.image.tag or spec.image.tag == "latest":
        p.append(f"{n}: image tag must be a pinned version or sha256 digest, not {spec.image.tag!r}")
    if spec.health is None:
        p.append(f"{n}: missing health check: give the spec a HealthCheck (Traefik and updates rely on it)")
    elif not spec.health.test or not all(_DURATION.match(d) for d in _durations(spec.health)):
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
        if not _SECRET_NAME.match(secret):
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
            if not _NAME.match(v.source):
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


def named_volumes(specs: Iterable[ServiceSpec]) -> list[str]:
    return sorted({v.source for s in specs for v in s.volumes if not v.is_host_path})


@dataclass(frozen=True)
class ScrapeTarget:
    job: str
    address: str  # host:port on the Docker networks, or via the host gateway for a host_network service
    path: str
    auth: str
    token_file: str | None
    # The site (app, cms) the service serves: the entrypoint of its catch-all route. Its
    # series carry it as `service`, the label the site's probes have, so that Alertmanager
    # can tell a target down because its site is down from any other (inhibit `equal`).
    site: str | None = None


def scrape_targets(specs: Iterable[ServiceSpec]) -> list[ScrapeTarget]:
    """What Prometheus scrapes, from each spec's `metrics`; token files are the scraper's secret files."""
    return [
        ScrapeTarget(
            job=s.name,
            address=f"{HOST_GATEWAY_NAME if s.host_network else s.name}:{s.metrics.port}",
            path=s.metrics.path,
            auth=s.metrics.auth,
            token_file=secret_path(s.metrics.credentials) if s.metrics.credentials else None,
            site=next((r.entrypoint for r in s.routing if r.host is None), None),
        )
        for s in specs
        if s.metrics
    ]


def duration_seconds(duration: str) -> int:
    """A Docker duration (\"15s\", \"1m\", \"500ms\") in whole seconds; 0 when it is not one."""
    match = re.match(r"^(\d+)(ms|s|m)$", duration)
    if not match:
        return 0
    value, unit = int(match.group(1)), match.group(2)
    return {"ms": max(1, value // 1000), "s": value, "m": value * 60}[unit]
