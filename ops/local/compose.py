"""A stack's services as a Compose file for a laptop, with no cloud.

`render` turns the same ServiceSpecs and monitoring files the host gets into a Compose
document, changed only where a machine without the cloud differs: `LOCAL_ENV` and
`_localize` list every change. The verb, and what the render differs in, are
described in ops/cli/compose.py (`python -m ops compose --help`).
"""

from __future__ import annotations

import os
import secrets as pysecrets
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

import yaml

from components.backups import stack_postgres_settings
from components.config import StackConfig
from components.workload.catalogue import PRIVATE_IMAGES, SECRET_NAMES, CatalogueInputs, catalogue
from components.workload.images import LOCAL_AWS_IMAGE
from components.workload.monitoring_config import ALERTMANAGER_CONFIG, monitoring_files
from components.workload.services import (
    DATA_ROOT,
    HOST_GATEWAY_IP,
    HOST_GATEWAY_NAME,
    INTERNAL_NETWORKS,
    NETWORKS,
    ServiceSpec,
    labels,
    secret_path,
    with_config_files,
)

SECRETS_DIR = "local/secrets"
CONFIG_DIR = "local/config"
# One local server for the AWS APIs the stack calls: S3 (uploads, backups) and SNS (alerts).
LOCAL_AWS = "aws-local"
LOCAL_AWS_URL = f"http://{LOCAL_AWS}:5000"
LOCAL_ACCOUNT = "123456789012"  # the account id the local server reports
LOCAL_BUCKETS = {"uploads": "uploads", "backups": "backups"}
# Alerts published to the local topic are kept in this queue, where they can be read back.
ALERT_QUEUE = "alerts"
AWS_CREDENTIALS = "aws_credentials"  # a shared-credentials file: what the instance role gives on the host
LOCAL_SECRETS = (*SECRET_NAMES, AWS_CREDENTIALS)
# Services that call AWS: on the host the instance role signs their calls; here the credentials file does.
AWS_CLIENTS = ("directus", "postgres", "backup", "alertmanager")
# Per service, the environment values a local run sets over the host's.
LOCAL_ENV: Mapping[str, Mapping[str, str]] = {
    "directus": {
        "PUBLIC_URL": "http://localhost:8055",
        # Directus signs in only addresses under a top-level domain IANA lists; the stack
        # files' placeholders end in the reserved `.example`.
        "ADMIN_EMAIL": "admin@example.com",
        "STORAGE_S3_ENDPOINT": LOCAL_AWS_URL,
        "STORAGE_S3_FORCE_PATH_STYLE": "true",
    },
    # barman-cloud and the backup job use boto3, which reads AWS_ENDPOINT_URL: the stack's
    # own archive_command and backup commands run unchanged.
    "postgres": {"AWS_ENDPOINT_URL": LOCAL_AWS_URL},
    "backup": {"AWS_ENDPOINT_URL": LOCAL_AWS_URL},
    "grafana": {"GF_SERVER_ROOT_URL": "http://grafana.localhost:3000"},
}


class ComposeError(Exception):
    """A spec cannot be rendered for Compose (a value only the cloud knows)."""


def local_topic_arn(config: StackConfig) -> str:
    return f"arn:aws:sns:{config.region}:{LOCAL_ACCOUNT}:quintas-crm-{config.stack}-alerts"


def local_specs(config: StackConfig) -> list[ServiceSpec]:
    """The catalogue with local stand-ins for cloud values and the monitoring files rendered for it."""
    inputs = CatalogueInputs(
        repositories={image: f"quintas-crm/{image}" for image in PRIVATE_IMAGES},
        uploads_bucket=LOCAL_BUCKETS["uploads"],
        backups_bucket=LOCAL_BUCKETS["backups"],
        # Placeholders: Compose reads secrets from local files and never sees a value.
        secrets={name: f"<{SECRETS_DIR}/{name}>" for name in SECRET_NAMES},
        # WAL archiving as on the host: the stack's own archive_command and archive_timeout.
        postgres_settings=stack_postgres_settings(config),
    )
    specs = catalogue(config, inputs)
    files = monitoring_files(config, specs, local_topic_arn(config), public_probes=False)
    return [_localize(spec) for spec in with_config_files(specs, files)]


def _localize(spec: ServiceSpec) -> ServiceSpec:
    routing = tuple(replace(r, host=f"{spec.name}.localhost") if r.host else r for r in spec.routing)
    env = {**spec.env, **LOCAL_ENV.get(spec.name, {})}
    secrets = dict(spec.secrets)
    secret_env = dict(spec.secret_env)
    if spec.name in AWS_CLIENTS:
        secrets[AWS_CREDENTIALS] = ""
        secret_env["AWS_SHARED_CREDENTIALS_FILE"] = AWS_CREDENTIALS
    files = dict(spec.config_files)
    if ALERTMANAGER_CONFIG in files:
        files[ALERTMANAGER_CONFIG] = _local_alertmanager(_plain(spec, "alertmanager.yml", files[ALERTMANAGER_CONFIG]))
    return replace(spec, routing=routing, env=env, secrets=secrets, secret_env=secret_env, config_files=files)


def _local_alertmanager(text: str) -> str:
    """The stack's alertmanager.yml with every SNS receiver sent to the local API server."""
    doc = yaml.safe_load(text)
    for receiver in doc.get("receivers", []):
        for sns in receiver.get("sns_configs", []):
            sns["api_url"] = LOCAL_AWS_URL
    return yaml.safe_dump(doc, sort_keys=False, default_flow_style=False, width=120)


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


def _aws_init_script(config: StackConfig) -> str:
    """Python run once in the local AWS server's image: the buckets, the alert topic and its recording queue."""
    arn = local_topic_arn(config)
    name = arn.rsplit(":", 1)[1]
    return "\n".join(
        [
            "import boto3",
            f"kw = dict(endpoint_url={LOCAL_AWS_URL!r}, region_name={config.region!r})",
            "s3 = boto3.client('s3', **kw)",
            f"region = {config.region!r}",
            "where = {} if region == 'us-east-1' else {'CreateBucketConfiguration': {'LocationConstraint': region}}",
            f"for bucket in {sorted(LOCAL_BUCKETS.values())!r}:",
            "    s3.create_bucket(Bucket=bucket, **where)",
            "sns, sqs = boto3.client('sns', **kw), boto3.client('sqs', **kw)",
            f"topic = sns.create_topic(Name={name!r})['TopicArn']",
            f"assert topic == {arn!r}, topic",
            f"queue = sqs.create_queue(QueueName={ALERT_QUEUE!r})['QueueUrl']",
            "queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=['QueueArn'])['Attributes']['QueueArn']",
            "sns.subscribe(TopicArn=topic, Protocol='sqs', Endpoint=queue_arn)",
            "print('local AWS ready:', topic)",
        ]
    )


def _local_aws_services(config: StackConfig) -> dict[str, Any]:
    env = {"AWS_SHARED_CREDENTIALS_FILE": secret_path(AWS_CREDENTIALS)}
    return {
        LOCAL_AWS: {
            "image": LOCAL_AWS_IMAGE,
            "environment": {"MOTO_PORT": "5000"},
            "ports": ["127.0.0.1:5000:5000"],
            # Directus and Alertmanager reach it on edge, postgres and the backup job on egress.
            "networks": ["edge", "egress"],
            "healthcheck": {
                "test": [
                    "CMD",
                    "python3",
                    "-c",
                    f"import urllib.request; urllib.request.urlopen('{LOCAL_AWS_URL}/moto-api/')",
                ],
                "interval": "5s",
                "retries": 10,
            },
        },
        f"{LOCAL_AWS}-init": {
            "image": LOCAL_AWS_IMAGE,
            "entrypoint": ["python3", "-c", _aws_init_script(config)],
            "environment": env,
            "secrets": [AWS_CREDENTIALS],
            "networks": ["edge"],
            "depends_on": {LOCAL_AWS: {"condition": "service_healthy"}},
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
    services.update(_escape(_local_aws_services(config)))
    ready = {"condition": "service_completed_successfully"}
    for name in AWS_CLIENTS:
        services[name].setdefault("depends_on", {})[f"{LOCAL_AWS}-init"] = ready
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


def _secret_content(name: str) -> str:
    if name == AWS_CREDENTIALS:  # the local API server accepts any key; the file format is the SDKs'
        return (
            "[default]\n"
            f"aws_access_key_id = local{pysecrets.token_hex(8)}\n"
            f"aws_secret_access_key = {pysecrets.token_urlsafe(32)}\n"
        )
    return pysecrets.token_urlsafe(32)


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
            fh.write(_secret_content(name))
        created.append(path)
    err.write(f"secrets: created {len(created)} missing file(s) under {root / SECRETS_DIR}\n")
    return created
