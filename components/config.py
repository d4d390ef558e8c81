"""StackConfig: the typed, validated view of one stack's settings.

Nothing else in the program reads `pulumi.Config`. Settings are read section by
section (identity, names, machine, backup schedule, recovery, retention, alerting,
access, images, replication, firewall, ownership, topology: components/config_sections.py), each with
the checks of components/config_checks.py; all problems are collected and raised together as
one ConfigError before any resource is registered, so an operator fixes a
settings file in one pass instead of one error per `pulumi preview`.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi

from components import config_sections as sections
from components.config_checks import ConfigProblem, Reader
from components.config_limits import PLAIN_BECAUSE, REGION_PLAIN_BECAUSE, check_stack_name
from components.config_sections import (
    INSTANCE_TYPES,
    Edge,
    Environment,
    ImageTags,
    InstanceShape,
    ScaleOut,
    SshMode,
    Topology,
    WafMode,
)
from components.office_hours import OfficeHours

PROJECT = "quintas-crm-infra"

VPC_CIDR = "10.40.0.0/16"  # the stack's VPC; the ALB's addresses come from it

# Namespaces of settings something reads besides the project's: the providers, the engine.
PROVIDER_NAMESPACES = ("aws", "docker", "command", "random", "pulumi")


def closest_key(key: str, project_keys: bool = True) -> str | None:
    """The setting a mistyped `key` most likely meant: one of this project's (unless another
    project's file is read) or `aws:region`; None when nothing is close."""
    known = [f"{PROJECT}:{k}" for k in sorted(KNOWN_KEYS)] if project_keys else []
    close = difflib.get_close_matches(key, [*known, "aws:region"], n=1)
    return close[0] if close else None


def unknown_namespace(key: str) -> str:
    """What to say of a setting under a namespace nothing reads (a typo in the project name)."""
    close = closest_key(key)
    if close:
        return f"a namespace something reads: did you mean {close}?"
    return f"a namespace something reads: {', '.join(sorted((PROJECT, *PROVIDER_NAMESPACES)))}"


KNOWN_KEYS = frozenset(
    {
        "environment",
        "owner",
        "appHost",
        "cmsHost",
        "grafanaHost",
        "route53ZoneId",
        "instanceType",
        "dataVolumeSizeGb",
        "backupTime",
        "timeZone",
        "recoveryWindowDays",
        "archiveTimeoutSeconds",
        "rpoSeconds",
        "snapshotRetentionDays",
        "logRetentionDays",
        "accessLogExpirationDays",
        "noncurrentVersionExpirationDays",
        "alertEmails",
        "sshMode",
        "adminCidrs",
        "operatorPublicKey",
        "imageTags",
        "replicateBackups",
        "replicaRegion",
        "waf",
        "monthlyBudgetUsd",
        "edge",
        "schedule",
        "topology",
        "ecsScaling",
        "databaseInstanceClass",
        "cacheNodeType",
    }
)


"""Why a setting may not arrive as a `secure:` value: where its value ends up in plain text.

No setting of this project is secret (generated passwords live in pulumi-random
resources), and StackConfig hands plain values to tags, names and resource inputs, so
a `secure:` value is refused instead of silently stripped of its secrecy. Keys not
listed here get Reader's reason: it is written into plain resource settings.
"""


class ConfigError(Exception):
    """Every invalid setting of a stack, each with its key, value and what is allowed."""

    def __init__(self, stack: str, problems: list[ConfigProblem]) -> None:
        self.stack = stack
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(
            f"invalid settings in Pulumi.{stack}.yaml ({len(problems)} problem"
            f"{'s' if len(problems) != 1 else ''}):\n{lines}\n"
            f"Fix them with `pulumi config set <key> <value> --stack {stack}` or by editing the file."
        )

    @property
    def keys(self) -> list[str]:
        return [p.key for p in self.problems]


@dataclass(frozen=True)
class StackConfig:
    project: str
    stack: str
    environment: Environment
    region: str
    owner: str
    app_host: str
    cms_host: str
    grafana_host: str
    route53_zone_id: str | None
    instance_type: str
    data_volume_size_gb: int
    backup_time: str
    time_zone: str
    recovery_window_days: int
    archive_timeout_seconds: int
    rpo_seconds: int
    snapshot_retention_days: int
    log_retention_days: int
    access_log_expiration_days: int
    noncurrent_version_expiration_days: int
    alert_emails: tuple[str, ...]
    ssh_mode: SshMode
    admin_cidrs: tuple[str, ...]
    operator_public_key: str
    image_tags: ImageTags
    replicate_backups: bool
    replica_region: str | None
    waf: WafMode
    monthly_budget_usd: float
    topology: Topology
    """`single-host` (every container on the EC2 host) or `ecs` (Fargate services, RDS, ElastiCache)."""
    scale_out: ScaleOut
    """The `ecs` topology's task bounds and database and cache sizes (read, and checked, in both)."""
    edge: Edge = "alb"
    """Where TLS ends: `alb` (the load balancer, prod's design) or `host` (Traefik on the Elastic IP)."""
    schedule: OfficeHours | None = None
    """When the host runs: None for always (prod's design), else the office hours it is stopped outside."""
    tags: Mapping[str, str] = field(default_factory=dict)
    vpc_cidr: str = VPC_CIDR
    """The VPC's address range: the network's and the one Traefik trusts forwarded headers from."""

    @property
    def is_prod(self) -> bool:
        return self.environment == "prod"

    @property
    def instance_shape(self) -> InstanceShape:
        return INSTANCE_TYPES[self.instance_type]

    def tags_for(self, component: str) -> dict[str, str]:
        """The stack's tags plus `component`: passed explicitly to every taggable resource,
        because the policy pack checks tags on each resource's own inputs."""
        return {**self.tags, "component": component}

    @property
    def name_prefix(self) -> str:
        """Prefix of physical names, unique per project and stack, e.g. `quintas-crm-prod`."""
        return f"quintas-crm-{self.stack}"

    @staticmethod
    def load() -> StackConfig:
        return _read(pulumi.get_project(), pulumi.get_stack())


def _read(project: str, stack: str) -> StackConfig:
    """Every section in turn (the order of the settings files), then one ConfigError for all their problems."""
    plain = {f"{PROJECT}:{key}": because for key, because in PLAIN_BECAUSE.items()}
    r = Reader(PROJECT, {**plain, "aws:region": REGION_PLAIN_BECAUSE})
    check_stack_name(r, stack)
    environment, region = sections.identity(r, stack)
    app_host, cms_host, grafana_host, zone = sections.names(r)
    instance_type, volume = sections.machine(r)
    backup_time, time_zone = sections.backup_schedule(r)
    edge = sections.edge(r, zone)
    running = sections.schedule(r, backup_time, time_zone)
    window, archive_timeout, rpo, snapshots = sections.recovery(r, environment)
    log_days, access_log_days, noncurrent = sections.retention(r, window)
    alert_emails = r.emails("alertEmails")
    ssh_mode, cidrs, public_key = sections.access(r)
    image_tags = sections.images(r, environment == "prod")
    replicate, replica_region = sections.replication(r, region, environment)
    waf = sections.firewall(r, environment, edge)
    budget, owner = sections.ownership(r)
    topology, scale_out = sections.topology(r, environment, window, edge, running)
    _unknown_keys(r)
    if r.problems:
        raise ConfigError(stack, r.problems)
    return StackConfig(
        project=project,
        stack=stack,
        environment=environment,
        region=region,
        owner=owner,
        app_host=app_host,
        cms_host=cms_host,
        grafana_host=grafana_host,
        route53_zone_id=zone,
        instance_type=instance_type,
        data_volume_size_gb=volume,
        backup_time=backup_time,
        time_zone=time_zone,
        recovery_window_days=window,
        archive_timeout_seconds=archive_timeout,
        rpo_seconds=rpo,
        snapshot_retention_days=snapshots,
        log_retention_days=log_days,
        access_log_expiration_days=access_log_days,
        noncurrent_version_expiration_days=noncurrent,
        alert_emails=alert_emails,
        ssh_mode=ssh_mode,
        admin_cidrs=cidrs,
        operator_public_key=public_key,
        image_tags=image_tags,
        replicate_backups=replicate,
        replica_region=replica_region,
        waf=waf,
        monthly_budget_usd=budget,
        topology=topology,
        scale_out=scale_out,
        edge=edge,
        schedule=running,
        tags={"project": project, "stack": stack, "owner": owner, "managed-by": "pulumi"},
    )


def _unknown_keys(r: Reader) -> None:
    """A misspelt key would otherwise be ignored silently and its default used; a known one set
    as a secret is reported even when no section read it."""
    present = set(pulumi.runtime.config.CONFIG.get()) | set(pulumi.runtime.config.get_config_env())
    prefix = f"{PROJECT}:"
    for key in sorted(k for k in present if k.split(":", 1)[0] not in (PROJECT, *PROVIDER_NAMESPACES)):
        r.bad(key, "(set)", unknown_namespace(key))
    for key in sorted(k for k in present if k.startswith(prefix)):
        if key[len(prefix) :] not in KNOWN_KEYS:
            r.bad(key, "(set)", f"a known setting; this project reads: {', '.join(sorted(KNOWN_KEYS))}")
        elif r.is_secret(key):
            r.raw(key[len(prefix) :])  # a secret the sections did not read (replicaRegion without replication)
