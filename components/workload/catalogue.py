"""The catalogue: every service one stack runs, as ServiceSpec data built from StackConfig.

Adding a service is one more entry in `catalogue()`. Nothing here creates a
resource: components/workload/containers.py turns the specs into containers on the host
and ops/local/compose.py into a Compose file for a laptop.

Images are pinned. The project's own images (frontend, postgres) come from its
ECR repositories with the tag from `imageTags`; the rest are upstream images.
Memory limits are sized for a 4 GiB host and the application tier grows with
the instance: `validate_catalogue` checks the sum fits the host.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi

from components.aws.buckets import Buckets
from components.backups import CRM_DATABASE, CRM_DB_USER, SUPERUSER, stack_postgres_settings
from components.config import StackConfig
from components.workload import public_edge
from components.workload.backup_job import backup_job_spec
from components.workload.catalogue_ingress import socket_proxy, traefik
from components.workload.catalogue_monitoring import NODE_TEXTFILE_DIR, monitoring
from components.workload.db_roles import BACKUP, DIRECTUS, ROLES
from components.workload.images import upstream
from components.workload.monitoring_config import SERVICES_DIR
from components.workload.services import (
    HealthCheck,
    Image,
    Metrics,
    Routing,
    ServiceSpec,
    Volume,
    wget_check,
)
from components.workload.spec_checks import validate_catalogue

# Images with an ECR repository of the stack: the project's own (frontend, postgres) and directus,
# whose repository stays until its old images are deleted. Upstream pins: components/workload/images.py.
PRIVATE_IMAGES = ("frontend", "postgres", "directus")
SECRET_NAMES = (
    "postgres_password",  # the superuser's: the postgres container alone gets it
    *(role.secret for role in ROLES),
    "directus_secret",
    "directus_admin_password",
    "grafana_admin_password",
    "metrics_token",
)
# The CRM's database (the seed plan's name): backups, dumps and restores default to it.
DB_NAME = CRM_DATABASE
DB_USER = CRM_DB_USER  # its owner, Directus's role (components/workload/db_roles.py)
POSTGRES_DATA = "/srv/data/postgres"  # host directory of the data volume, shared with the backup job
# The image's entrypoint sources it on a new data directory, after the PostGIS script (10_postgis.sh).
ROLES_SCRIPT = "/docker-entrypoint-initdb.d/20-quintas-roles.sh"
HOST_RESERVE_MB = 512  # the OS, Docker, the SSM and CloudWatch agents


@dataclass(frozen=True)
class Endpoints:
    """Where Directus finds PostgreSQL and Redis. Default: the containers, by name on the Docker networks."""

    database_host: pulumi.Input[str] = "postgres"
    """PostgreSQL's host name: the postgres container, or the RDS instance's address."""
    redis_url: pulumi.Input[str] = "redis://redis:6379"
    """Redis' URL: the redis container, or `rediss://` (TLS) to the ElastiCache primary endpoint."""
    database_tls: bool = False
    """Connect to PostgreSQL over TLS (a server that requires it, such as RDS with rds.force_ssl)."""


@dataclass(frozen=True)
class CatalogueInputs:
    """What the catalogue needs besides StackConfig; plain strings on a laptop, Outputs in the cloud."""

    repositories: Mapping[str, pulumi.Input[str]]
    """ECR repository URL per private image (frontend, postgres, directus)."""
    uploads_bucket: pulumi.Input[str]
    """Name of the uploads bucket Directus' S3 storage driver writes to."""
    backups_bucket: pulumi.Input[str]
    """Name of the backups bucket: WAL archiving, base backups and dumps go there."""
    secrets: Mapping[str, pulumi.Input[str]]
    """Generated secret per name in SECRET_NAMES (ServiceSecrets.values), delivered to containers as files."""
    postgres_settings: Mapping[str, str] = field(default_factory=dict)
    """Extra PostgreSQL server settings (`-c key=value`), merged over the base ones; the backups component
    supplies archive_mode, archive_command, ... Default: none."""
    config_files: Mapping[str, Mapping[str, pulumi.Input[str]]] = field(default_factory=dict)
    """Per service, files delivered into its container (path -> content); the monitoring component supplies
    Prometheus, Alertmanager and Grafana files. Default: none."""
    endpoints: Endpoints = field(default_factory=Endpoints)
    """Where the application reaches its database and cache. Default: the containers of the catalogue."""

    @classmethod
    def for_stack(
        cls,
        config: StackConfig,
        buckets: Buckets,
        repositories: Mapping[str, pulumi.Input[str]],
        secrets: Mapping[str, pulumi.Input[str]],
        endpoints: Endpoints | None = None,
    ) -> CatalogueInputs:
        """The stack's buckets, repositories and secrets; PostgreSQL archives its WAL to the backups bucket."""
        return cls(
            repositories=repositories,
            uploads_bucket=buckets.uploads.name,
            backups_bucket=buckets.backups.name,
            secrets=secrets,
            postgres_settings=stack_postgres_settings(config),
            endpoints=endpoints or Endpoints(),
        )


def memory_budget_mb(config: StackConfig) -> int:
    return int(config.instance_shape.memory_gib * 1024) - HOST_RESERVE_MB


def _scale(config: StackConfig) -> int:
    """How many times a 4 GiB host the instance is: the application tier's limits grow with it."""
    return max(1, int(config.instance_shape.memory_gib // 4))


def catalogue(config: StackConfig, inputs: CatalogueInputs, extra: Sequence[ServiceSpec] = ()) -> list[ServiceSpec]:
    """The stack's services plus `extra`, validated; raises SpecError listing every problem."""
    scale = _scale(config)
    database = postgres(config, inputs, scale)
    backup = backup_job_spec(
        config, database.image, inputs.backups_bucket, inputs.secrets[BACKUP.secret],
        database=DB_NAME, db_user=BACKUP.name, textfile_host_dir=NODE_TEXTFILE_DIR, postgres_data_host_dir=POSTGRES_DATA,
    )  # fmt: skip
    specs = [
        traefik(config.vpc_cidr, config.stack),
        socket_proxy(),
        frontend(config, inputs, scale),
        directus(config, inputs, scale),
        database,
        redis(scale),
        backup,
        *monitoring(config, inputs.secrets, inputs.config_files),
        *extra,
    ]
    specs = public_edge.for_stack(config, specs)  # edge `host`: Traefik terminates TLS in the ALB's place
    validate_catalogue(specs, memory_budget_mb(config))
    return specs


def frontend(config: StackConfig, inputs: CatalogueInputs, scale: int) -> ServiceSpec:
    return ServiceSpec(
        name="frontend",
        image=Image(inputs.repositories["frontend"], config.image_tags.frontend, local="quintas-crm/frontend"),
        env={"NODE_ENV": "production", "PORT": "3000", "HOSTNAME": "0.0.0.0", "NEXT_TELEMETRY_DISABLED": "1"},
        health=HealthCheck(
            (
                "node",
                "-e",
                "fetch('http://127.0.0.1:3000/api/health')"
                ".then(r => process.exit(r.ok ? 0 : 1)).catch(() => process.exit(1))",
            ),
            interval="10s",
            start_period="20s",
        ),
        memory_mb=448 * scale,
        cpus=1.0,
        networks=("edge",),
        routing=(Routing("app", 3000),),
        depends_on=("directus",),
    )


def directus_edge_settings(config: StackConfig) -> dict[str, str]:
    """Directus behind the ALB (TLS) and Traefik: its public address, cookies, CORS and client IPs.

    Cookies carry `Secure`: browsers send them over HTTPS only, which is all the ALB serves.
    SameSite strict: the app and cms hosts are one site, so the CRM's own pages keep working,
    and no other site's page can make a browser send them. CORS answers the frontend's
    origin only. IP_TRUST_PROXY trusts X-Forwarded-For only from private addresses (Traefik
    on the Docker networks, the ALB in the VPC), so the activity log and the login rate
    limiter see the client's address, and a client cannot claim another one.
    """
    return {
        "PUBLIC_URL": f"https://{config.cms_host}",
        "SESSION_COOKIE_SECURE": "true",
        "SESSION_COOKIE_SAME_SITE": "strict",
        "REFRESH_TOKEN_COOKIE_SECURE": "true",
        "REFRESH_TOKEN_COOKIE_SAME_SITE": "strict",
        "CORS_ENABLED": "true",
        "CORS_ORIGIN": f"https://{config.app_host}",
        "IP_TRUST_PROXY": "loopback,uniquelocal",
    }


def directus(config: StackConfig, inputs: CatalogueInputs, scale: int) -> ServiceSpec:
    env: dict[str, pulumi.Input[str]] = {
        **directus_edge_settings(config),
        "DB_CLIENT": "pg",
        "DB_HOST": inputs.endpoints.database_host,
        "DB_PORT": "5432",
        "DB_DATABASE": DB_NAME,
        "DB_USER": DIRECTUS.name,
        "ADMIN_EMAIL": config.alert_emails[0],
        "CACHE_ENABLED": "true",
        "CACHE_STORE": "redis",
        "CACHE_AUTO_PURGE": "true",
        "REDIS": inputs.endpoints.redis_url,
        # Uploads go straight to S3 with the instance role's credentials (no keys anywhere).
        "STORAGE_LOCATIONS": "s3",
        "STORAGE_S3_DRIVER": "s3",
        "STORAGE_S3_BUCKET": inputs.uploads_bucket,
        "STORAGE_S3_REGION": config.region,
        "METRICS_ENABLED": "true",
        "LOG_STYLE": "raw",
        "TELEMETRY": "false",
        # Extensions are baked into the image here; no volume over the path (it would hide them,
        # and a writable volume would be shared by the old and new container of an update).
        "EXTENSIONS_PATH": "/directus/extensions",
    }
    if inputs.endpoints.database_tls:
        # TLS without verifying the server's certificate: the image has no RDS CA bundle to verify it with.
        env["DB_SSL__REJECT_UNAUTHORIZED"] = "false"
    return ServiceSpec(
        name="directus",
        image=upstream("directus"),
        env=env,
        secrets={
            "directus_secret": inputs.secrets["directus_secret"],
            DIRECTUS.secret: inputs.secrets[DIRECTUS.secret],
            "directus_admin_password": inputs.secrets["directus_admin_password"],
            "metrics_token": inputs.secrets["metrics_token"],
        },
        secret_env={
            "SECRET_FILE": "directus_secret",
            "DB_PASSWORD_FILE": DIRECTUS.secret,
            "ADMIN_PASSWORD_FILE": "directus_admin_password",
            "METRICS_TOKENS_FILE": "metrics_token",
        },
        file_owner="1000",  # the image runs as user node
        # Its first boot on a new database runs the migrations: 25 to 31 s on 2 vCPUs in the rehearsal.
        health=wget_check("http://127.0.0.1:8055/server/ping", start_period="60s"),
        memory_mb=640 * scale,
        cpus=1.0,
        networks=("edge", "backend"),
        routing=(Routing("cms", 8055),),
        metrics=Metrics(port=8055, auth="metrics", credentials="metrics_token"),
        depends_on=("postgres", "redis"),
    )


def postgres_server_settings(config: StackConfig, memory_mb: int, extra: Mapping[str, str]) -> dict[str, str]:
    """PostgreSQL settings passed as `-c key=value`: base tuning, then `extra` (the backups issue's WAL archiving).

    `extra` wins over a base value with the same key, so the backups component
    can set wal_level, archive_mode, archive_command and archive_timeout here.
    """
    base = {
        "listen_addresses": "*",
        "max_connections": "100",
        "shared_buffers": f"{memory_mb // 4}MB",
        "effective_cache_size": f"{memory_mb // 2}MB",
        "wal_level": "replica",
        "log_min_duration_statement": "1000",
        "log_timezone": config.time_zone,
        "timezone": "UTC",
    }
    return {**base, **extra}


def postgres_command(settings: Mapping[str, str]) -> tuple[str, ...]:
    args: list[str] = ["postgres"]
    for key, value in settings.items():
        args += ["-c", f"{key}={value}"]
    return tuple(args)


def postgres(config: StackConfig, inputs: CatalogueInputs, scale: int) -> ServiceSpec:
    memory = 896 * scale
    return ServiceSpec(
        name="postgres",
        image=Image(
            inputs.repositories["postgres"],
            config.image_tags.postgres,
            local="quintas-crm/postgres",
            build_context="services/postgres",
        ),
        command=postgres_command(postgres_server_settings(config, memory, inputs.postgres_settings)),
        env={
            "POSTGRES_DB": DB_NAME,
            "POSTGRES_USER": SUPERUSER,
            # The clients' roles, made on a new data directory (services/postgres/initdb-roles.sh).
            **{f"{role.variable}_USER": role.name for role in ROLES},
            "PGDATA": "/var/lib/postgresql/data/pgdata",
            # For barman-cloud-* (the backups component): where base backups and WAL go.
            "BACKUPS_BUCKET": inputs.backups_bucket,
            "AWS_DEFAULT_REGION": config.region,
        },
        secrets={name: inputs.secrets[name] for name in ("postgres_password", *(role.secret for role in ROLES))},
        secret_env={
            "POSTGRES_PASSWORD_FILE": "postgres_password",
            **{f"{role.variable}_PASSWORD_FILE": role.secret for role in ROLES},
        },
        # The image's postgres user reads the role passwords when it initialises the data directory.
        file_owner="999",
        config_files={ROLES_SCRIPT: (SERVICES_DIR / "postgres" / "initdb-roles.sh").read_text()},
        health=HealthCheck(("pg_isready", "-h", "127.0.0.1", "-U", SUPERUSER, "-d", DB_NAME), start_period="60s"),
        memory_mb=memory,
        cpus=float(config.instance_shape.vcpus),
        shm_size_mb=256,
        volumes=(Volume(POSTGRES_DATA, "/var/lib/postgresql/data"),),
        # backend for its clients; egress only so barman-cloud can reach S3 (nothing else is on it).
        networks=("backend", "egress"),
        # One data directory: a second server must never start on it, so the old one stops first,
        # with time for a clean shutdown checkpoint (SIGINT = fast shutdown).
        replacement="delete-first",
        stop_grace_seconds=120,
        stop_signal="SIGINT",
    )


def redis(scale: int) -> ServiceSpec:
    memory = 192 * scale
    return ServiceSpec(
        name="redis",
        image=upstream("redis"),
        # A cache: no persistence, and it evicts the least recently used keys when full.
        command=(
            "redis-server",
            "--maxmemory",
            f"{memory * 3 // 4}mb",
            "--maxmemory-policy",
            "allkeys-lru",
            "--save",
            "",
            "--appendonly",
            "no",
        ),
        health=HealthCheck(("redis-cli", "ping"), interval="10s", start_period="10s"),
        memory_mb=memory,
        cpus=0.5,
        networks=("backend",),
        replacement="delete-first",
        stop_grace_seconds=30,
    )


def stand_in_inputs() -> CatalogueInputs:
    """Inputs with plain stand-ins for every Output: enough to build the catalogue for its names."""
    return CatalogueInputs(
        repositories={image: image for image in PRIVATE_IMAGES},
        uploads_bucket="uploads",
        backups_bucket="backups",
        secrets=dict.fromkeys(SECRET_NAMES, ""),
    )


def service_names(config: StackConfig) -> list[str]:
    """The catalogue's service names, e.g. for the platform's CloudWatch log groups; creates nothing."""
    return [spec.name for spec in catalogue(config, stand_in_inputs())]
