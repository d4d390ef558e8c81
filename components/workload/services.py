"""ServiceSpec: the typed description of one container, and what is derived from it.

One ServiceSpec drives everything about a service: its docker.Container and
Traefik route (components/workload/containers.py, with `labels` from here), its
Prometheus scrape target (`scrape_targets`) and its entry in the local Compose
file (ops/local/compose.py). The stack's own services are listed in
components/workload/catalogue.py; the rules every spec must pass are checked in
spec_checks.py. This file makes no resources.
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
# edge: what Traefik routes to, with outbound access. backend: internal, no route out.
# egress: outbound only, nothing routed or published; for postgres, whose WAL archiving
# and base backups (barman-cloud) write to S3. docker-api: internal, Traefik and the Docker
# socket proxy only, so no other container can reach the proxy's port.
NETWORKS = ("edge", "backend", "egress", "docker-api")
INTERNAL_NETWORKS = frozenset({"backend", "docker-api"})
CONFIG_DIGEST_LABEL = "quintas.config-digest"
# The name a `host_gateway` container resolves to the host (Docker's special address
# `host-gateway`); how Prometheus reaches a service in the host's network namespace.
HOST_GATEWAY_NAME = "host.docker.internal"
HOST_GATEWAY_IP = "host-gateway"


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
    match = re.fullmatch(r"([0-9]+)(ms|s|m)", duration)
    if not match:
        return 0
    value, unit = int(match.group(1)), match.group(2)
    return {"ms": max(1, value // 1000), "s": value, "m": value * 60}[unit]
