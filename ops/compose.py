"""Render a stack's services as a Compose file for local development, with no cloud.

    python -m ops compose --stack staging --init-secrets > docker-compose.yml
    docker-compose up

The same ServiceSpecs as the host runs, changed only where a laptop differs:
ports bound to 127.0.0.1, named volumes instead of /srv/data, the json-file log
driver instead of CloudWatch, MinIO in place of the S3 uploads bucket, and
Grafana at grafana.localhost instead of its public host. Secrets are files under
local/secrets/ that the developer creates (`--init-secrets` writes random ones
for any missing); no real secret value is ever read or written.
"""

from __future__ import annotations

import argparse
import os
import secrets as pysecrets
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

import yaml

from components.catalogue import PRIVATE_IMAGES, SECRET_NAMES, CatalogueInputs, catalogue
from components.config import ConfigError, StackConfig
from components.services import (
    DATA_ROOT,
    HOST_GATEWAY_IP,
    HOST_GATEWAY_NAME,
    INTERNAL_NETWORKS,
    NETWORKS,
    ServiceSpec,
    labels,
    secret_path,
)
from ops import engine

SECRETS_DIR = "local/secrets"
CONFIG_DIR = "local/config"
MINIO_IMAGE = "minio/minio:RELEASE.2025-02-28T09-55-16Z"
MINIO_CLIENT_IMAGE = "minio/mc:RELEASE.2025-02-21T16-00-46Z"
LOCAL_BUCKET = "uploads"
LOCAL_SECRETS = (*SECRET_NAMES, "minio_root_user", "minio_root_password")


class ComposeError(Exception):
    """A spec cannot be rendered for Compose (a value only the cloud knows)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", required=True, help="stack whose services to render; needs Pulumi.<stack>.yaml")
    parser.add_argument(
        "--init-secrets",
        action="store_true",
        help=f"write a random value to every missing secret file under {SECRETS_DIR}/ (mode 0644: containers run as their own users and must read it)",
    )
    parser.add_argument("--dir", default=".", help="project directory the Compose file will live in (default: .)")


def load_config(stack: str) -> StackConfig:
    """The stack's validated settings, read by running StackConfig on the simulated engine."""
    found: list[StackConfig] = []
    engine.run(stack, program=lambda: found.append(StackConfig.load()))
    return found[0]


def local_specs(config: StackConfig) -> list[ServiceSpec]:
    inputs = CatalogueInputs(
        repositories={image: f"quintas-crm/{image}" for image in PRIVATE_IMAGES},
        uploads_bucket=LOCAL_BUCKET,
        backups_bucket="backups",
        # Placeholders: Compose reads secrets from local files and never sees a value.
        secrets={name: f"<{SECRETS_DIR}/{name}>" for name in SECRET_NAMES},
    )
    return [_localize(spec) for spec in catalogue(config, inputs)]


def _localize(spec: ServiceSpec) -> ServiceSpec:
    routing = tuple(replace(r, host=f"{spec.name}.localhost") if r.host else r for r in spec.routing)
    env = dict(spec.env)
    secrets = dict(spec.secrets)
    secret_env = dict(spec.secret_env)
    if spec.name == "directus":
        env.update(
            PUBLIC_URL="http://localhost:8055",
            STORAGE_S3_ENDPOINT="http://minio:9000",
            STORAGE_S3_FORCE_PATH_STYLE="true",
            STORAGE_S3_BUCKET=LOCAL_BUCKET,
        )
        secrets.update(minio_root_user="", minio_root_password="")
        secret_env.update({"STORAGE_S3_KEY_FILE": "minio_root_user", "STORAGE_S3_SECRET_FILE": "minio_root_password"})
    if spec.name == "grafana":
        env["GF_SERVER_ROOT_URL"] = "http://grafana.localhost:3000"
    return replace(spec, routing=routing, env=env, secrets=secrets, secret_env=secret_env)


def _plain(spec: ServiceSpec, what: str, value: object) -> str:
    if not isinstance(value, str):
        raise ComposeError(f"{spec.name}: {what} is not a plain value; give the catalogue a local stand-in for it")
    return value


def _volume(spec: ServiceSpec, source: str, target: str, read_only: bool) -> str:
    if source == DATA_ROOT or source.startswith(DATA_ROOT + "/"):
        source = "data-" + source[len(DATA_ROOT) :].strip("/").replace("/", "-")
    return f"{source}:{target}{':ro' if read_only else ''}"


def render_service(spec: ServiceSpec, stack: str) -> dict[str, Any]:
    image = spec.image
    repo = image.local or _plain(spec, "image repository", image.repository)
    env = {k: _plain(spec, f"env {k}", v) for k, v in spec.environment().items()}
    health = spec.health
    assert health is not None
    service: dict[str, Any] = {
        "image": f"{repo}{'@' if image.tag.startswith('sha256:') else ':'}{image.tag}",
        "environment": env,
        "labels": labels(spec, stack),
        "healthcheck": {
            "test": ["CMD", *health.test],
            "interval": health.interval,
            "timeout": health.timeout,
            "retries": health.retries,
            "start_period": health.start_period,
        },
        "mem_limit": f"{spec.memory_mb}m",
        "cpus": spec.cpus,
        "restart": spec.restart,
        "stop_grace_period": f"{spec.stop_grace_seconds}s",
        "logging": {"driver": "json-file", "options": {"max-size": "10m", "max-file": "3"}},
    }
    if spec.host_network:
        service["network_mode"] = "host"
    else:
        service["networks"] = list(spec.networks)
    if spec.host_gateway:
        service["extra_hosts"] = [f"{HOST_GATEWAY_NAME}:{HOST_GATEWAY_IP}"]
    if image.build_context:
        service["build"] = {"context": f"./{image.build_context}"}
    if spec.command:
        service["command"] = list(spec.command)
    if spec.secrets:
        service["secrets"] = sorted(spec.secrets)
    if spec.ports:
        service["ports"] = [f"127.0.0.1:{p.host}:{p.container}" for p in spec.ports]
    volumes = [_volume(spec, v.source, v.target, v.read_only) for v in spec.volumes]
    volumes += [
        f"./{CONFIG_DIR}/{spec.name}{path}:{path}:ro" for path in sorted(spec.config_files) if path.startswith("/")
    ]
    if volumes:
        service["volumes"] = volumes
    if spec.depends_on:
        service["depends_on"] = {dep: {"condition": "service_healthy"} for dep in spec.depends_on}
    for key, value in (
        ("stop_signal", spec.stop_signal),
        ("shm_size", f"{spec.shm_size_mb}m" if spec.shm_size_mb else None),
        ("privileged", spec.privileged or None),
        ("pid", "host" if spec.pid_host else None),
    ):
        if value is not None:
            service[key] = value
    return service


def _minio_services() -> dict[str, Any]:
    user, password = secret_path("minio_root_user"), secret_path("minio_root_password")
    create_bucket = (
        f'mc alias set local http://minio:9000 "$$(cat {user})" "$$(cat {password})" '
        f"&& mc mb --ignore-existing local/{LOCAL_BUCKET}"
    )
    return {
        "minio": {
            "image": MINIO_IMAGE,
            "command": ["server", "/data", "--console-address", ":9001"],
            "environment": {"MINIO_ROOT_USER_FILE": user, "MINIO_ROOT_PASSWORD_FILE": password},
            "secrets": ["minio_root_user", "minio_root_password"],
            "ports": ["127.0.0.1:9001:9001"],
            "volumes": ["minio-data:/data"],
            "networks": ["edge"],
            "healthcheck": {"test": ["CMD", "mc", "ready", "local"], "interval": "10s", "retries": 5},
        },
        "minio-init": {
            "image": MINIO_CLIENT_IMAGE,
            "entrypoint": ["/bin/sh", "-c", create_bucket],
            "secrets": ["minio_root_user", "minio_root_password"],
            "networks": ["edge"],
            "depends_on": {"minio": {"condition": "service_healthy"}},
            "restart": "no",
        },
    }


def _escape(value: Any) -> Any:
    """Compose reads `$` as interpolation: a literal one (a regex in a flag, say) is written `$$`."""
    if isinstance(value, str):
        return value.replace("$", "$$")
    if isinstance(value, dict):
        return {k: _escape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_escape(v) for v in value]
    return value


def render(config: StackConfig) -> dict[str, Any]:
    specs = local_specs(config)
    services = {spec.name: _escape(render_service(spec, config.stack)) for spec in specs}
    services.update(_minio_services())
    services["directus"]["depends_on"]["minio-init"] = {"condition": "service_completed_successfully"}
    volumes = sorted({v.split(":", 1)[0] for s in services.values() for v in s.get("volumes", [])})
    return {
        "services": services,
        # Named as on the host, so Traefik's `--providers.docker.network=edge` finds it.
        "networks": {
            net: {"name": net, **({"internal": True} if net in INTERNAL_NETWORKS else {})} for net in NETWORKS
        },
        "volumes": {v: {} for v in volumes if not v.startswith(("/", "."))},
        "secrets": {name: {"file": f"./{SECRETS_DIR}/{name}"} for name in LOCAL_SECRETS},
    }


def config_files(config: StackConfig) -> dict[Path, str]:
    """The files the Compose file bind-mounts read-only, by path relative to the project."""
    return {
        Path(CONFIG_DIR, spec.name, path.lstrip("/")): _plain(spec, f"config file {path}", content)
        for spec in local_specs(config)
        for path, content in spec.config_files.items()
    }


def init_secrets(root: Path, err: TextIO) -> list[Path]:
    """Create every missing secret file with a random value; never overwrite one."""
    created: list[Path] = []
    for name in LOCAL_SECRETS:
        path = root / SECRETS_DIR / name
        if path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with os.fdopen(fd, "w") as fh:
            fh.write(pysecrets.token_urlsafe(32))
        created.append(path)
    err.write(f"secrets: created {len(created)} missing file(s) under {root / SECRETS_DIR}\n")
    return created


def main(args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    try:
        config = load_config(args.stack)
        document = render(config)
    except (ConfigError, engine.SettingsFileError) as exc:
        err.write(f"error: {exc}\n")
        return 2
    except ComposeError as exc:
        err.write(f"error: {exc}\n")
        return 1
    root = Path(args.dir)
    if args.init_secrets:
        init_secrets(root, err)
    for path, content in config_files(config).items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(content)
    out.write(f"# Rendered by `python -m ops compose --stack {config.stack}` from the stack's ServiceSpecs.\n")
    out.write(f"# Secrets are read from {SECRETS_DIR}/<name>; `--init-secrets` creates the missing ones.\n")
    yaml.safe_dump(document, out, sort_keys=False, default_flow_style=False)
    return 0
