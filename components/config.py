"""StackConfig: the typed, validated view of one stack's settings.

Nothing else in the program reads `pulumi.Config`. Settings are read section by
section (identity, names, machine, backup schedule, recovery, retention, alerting,
access, images, replication, ownership), each with the checks of
components/config_checks.py; all problems are collected and raised together as
one ConfigError before any resource is registered, so an operator fixes a
settings file in one pass instead of one error per `pulumi preview`.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import pulumi

from components.config_checks import (
    HHMM,
    HOSTNAME,
    IMAGE_TAG,
    PUBLIC_KEY,
    TAG_VALUE,
    ZONE_ID,
    ConfigProblem,
    Reader,
    is_region,
    is_time_zone,
    key_material,
)
from components.config_limits import PLAIN_BECAUSE, REGION_PLAIN_BECAUSE, admin_cidrs, check_stack_name

PROJECT = "quintas-crm-infra"

Environment = Literal["prod", "staging"]
SshMode = Literal["ssm", "direct"]


@dataclass(frozen=True)
class InstanceShape:
    vcpus: int
    memory_gib: float
    architecture: Literal["x86_64", "arm64"]


# The host runs every container of the CRM: below 4 GiB the JVM-free stack still
# swaps under Directus + Next.js + Postgres. Graviton shapes need arm64 images.
INSTANCE_TYPES: Mapping[str, InstanceShape] = {
    "t3.medium": InstanceShape(2, 4, "x86_64"),
    "t3.large": InstanceShape(2, 8, "x86_64"),
    "t3.xlarge": InstanceShape(4, 16, "x86_64"),
    "t3a.medium": InstanceShape(2, 4, "x86_64"),
    "t3a.large": InstanceShape(2, 8, "x86_64"),
    "t3a.xlarge": InstanceShape(4, 16, "x86_64"),
    "m6i.large": InstanceShape(2, 8, "x86_64"),
    "m6i.xlarge": InstanceShape(4, 16, "x86_64"),
    "m7i.large": InstanceShape(2, 8, "x86_64"),
    "m7i.xlarge": InstanceShape(4, 16, "x86_64"),
    "t4g.medium": InstanceShape(2, 4, "arm64"),
    "t4g.large": InstanceShape(2, 8, "arm64"),
    "t4g.xlarge": InstanceShape(4, 16, "arm64"),
    "m7g.large": InstanceShape(2, 8, "arm64"),
    "m7g.xlarge": InstanceShape(4, 16, "arm64"),
}

# CloudWatch Logs accepts only these retention periods (PutRetentionPolicy).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827)

VOLUME_SIZE_GB = (20, 2000)
MIN_RECOVERY_WINDOW = {"staging": 7, "prod": 30}
REQUIRED_IMAGES = ("frontend", "postgres")
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
        "monthlyBudgetUsd",
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
class ImageTags:
    frontend: str
    postgres: str


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
    monthly_budget_usd: float
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
    environment, region = _identity(r, stack)
    app_host, cms_host, grafana_host, zone = _names(r)
    instance_type, volume = _machine(r)
    backup_time, time_zone = _backup_schedule(r)
    window, archive_timeout, rpo, snapshots = _recovery(r, environment)
    log_days, access_log_days, noncurrent = _retention(r, window)
    alert_emails = r.emails("alertEmails")
    ssh_mode, cidrs, public_key = _access(r)
    image_tags = _images(r, environment == "prod")
    replicate, replica_region = _replication(r, region)
    budget, owner = _ownership(r)
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
        monthly_budget_usd=budget,
        tags={"project": project, "stack": stack, "owner": owner, "managed-by": "pulumi"},
    )


def _identity(r: Reader, stack: str) -> tuple[Environment, str]:
    """Which environment the stack is (its name says so too), and the AWS region it lives in."""
    chosen = r.one_of("environment", ("prod", "staging"))
    environment: Environment = "prod" if chosen == "prod" else "staging"
    if chosen is not None and stack != environment and not stack.startswith(f"{environment}-"):
        r.bad(
            r.key("environment"),
            chosen,
            f"the environment the stack's name starts with (stack {stack!r} is neither {environment} "
            f"nor {environment}-<suffix>)",
        )
    # A bad region still falls back to a real one, so that replicaRegion is compared with something.
    allowed = "an AWS region name such as us-east-1 (one that exists)"
    region = r.string("region", is_region, allowed, config=r.aws) or "us-east-1"
    return environment, region


def _names(r: Reader) -> tuple[str, str, str, str | None]:
    """The public DNS names (three different ones) and the Route53 zone that may hold them."""
    allowed = "a lower-case DNS name with at least two labels, e.g. app.example.com"
    keys = ("appHost", "cmsHost", "grafanaHost")
    app_host, cms_host, grafana_host = (r.string(k, HOSTNAME.fullmatch, allowed) for k in keys)
    first: dict[str, str] = {}
    for key, host in zip(keys, (app_host, cms_host, grafana_host), strict=True):
        if host and host in first:  # reported under the key that repeats an earlier one
            r.bad(r.key(key), host, f"the same as {first[host]}: appHost, cmsHost and grafanaHost must all differ")
        first.setdefault(host, key)
    zone_allowed = "a Route53 hosted zone id such as Z0123456789ABC, or unset"
    return app_host, cms_host, grafana_host, r.optional("route53ZoneId", ZONE_ID.fullmatch, zone_allowed)


def _machine(r: Reader) -> tuple[str, int]:
    """The host's instance type and the size of its data volume."""
    return r.one_of("instanceType", tuple(INSTANCE_TYPES)) or "", r.integer("dataVolumeSizeGb", *VOLUME_SIZE_GB)


def _backup_schedule(r: Reader) -> tuple[str, str]:
    """When the daily backups run: a local time and the time zone it is in."""
    backup_time = r.string("backupTime", HHMM.fullmatch, "a 24-hour time HH:MM such as 02:00", default="02:00")
    time_zone = r.string("timeZone", is_time_zone, "an IANA time zone such as America/Mexico_City")
    return backup_time, time_zone


def _recovery(r: Reader, environment: Environment) -> tuple[int, int, int, int]:
    """How far back a restore reaches (at least the environment's minimum), how much data may be lost."""
    low = MIN_RECOVERY_WINDOW[environment]
    allowed = f"a whole number of days from {low} ({environment} minimum) to 3650"
    window = r.integer("recoveryWindowDays", low, 3650, allowed=allowed)
    archive_timeout = r.integer("archiveTimeoutSeconds", 30, 3600, default=60)
    rpo = r.integer("rpoSeconds", 30, 86400, default=60)
    if archive_timeout > rpo and not (r.has_problem("archiveTimeoutSeconds") or r.has_problem("rpoSeconds")):
        r.bad(
            r.key("archiveTimeoutSeconds"),
            archive_timeout,
            f"at most rpoSeconds ({rpo}): a WAL segment may wait this long before it is archived, "
            "so a longer timeout can lose more than the RPO goal allows",
        )
    return window, archive_timeout, rpo, r.integer("snapshotRetentionDays", 1, 365)


def _retention(r: Reader, window: int) -> tuple[int, int, int]:
    """How long logs and old object versions are kept; a backup version outlives the recovery window."""
    allowed = f"a CloudWatch Logs retention period: one of {', '.join(map(str, LOG_RETENTION_DAYS))}"
    log_days = r.one_of("logRetentionDays", LOG_RETENTION_DAYS, allowed=allowed) or LOG_RETENTION_DAYS[0]
    access_log_days = r.integer("accessLogExpirationDays", 1, 3650)
    allowed = f"a whole number of days of at least recoveryWindowDays ({window})"
    noncurrent = r.integer("noncurrentVersionExpirationDays", window, 3650, default=window + 7, allowed=allowed)
    return log_days, access_log_days, noncurrent


def _access(r: Reader) -> tuple[SshMode, tuple[str, ...], str]:
    """How operators and the deploy reach the host: SSM or direct SSH from admin networks, with which key."""
    ssh_mode: SshMode = "direct" if r.one_of("sshMode", ("ssm", "direct"), default="ssm") == "direct" else "ssm"
    cidrs = admin_cidrs(r, ssh_mode)
    key_allowed = "an OpenSSH public key line (ssh-ed25519, ssh-rsa or ecdsa-sha2-*)"
    public_key = r.string("operatorPublicKey", lambda v: PUBLIC_KEY.fullmatch(v.strip()), key_allowed)
    return ssh_mode, cidrs, public_key.strip()


def _images(r: Reader, is_prod: bool) -> ImageTags:
    """The tags of the images the stack builds itself; prod pins a version."""
    raw = r.raw("imageTags")
    key = r.key("imageTags")
    if not isinstance(raw, dict):
        r.bad(key, raw, f"a map with the image tags of: {', '.join(REQUIRED_IMAGES)}")
        return ImageTags("", "")
    tags: dict[str, str] = {}
    for image in REQUIRED_IMAGES:
        value = raw.get(image)
        if not isinstance(value, str) or not IMAGE_TAG.fullmatch(value):
            r.bad(f"{key}.{image}", value, "a Docker image tag (letters, digits, . _ -) or sha256 digest")
        elif is_prod and value == "latest":
            r.bad(f"{key}.{image}", value, "a fixed version: `latest` is not allowed in prod")
        else:
            tags[image] = value
    for extra in sorted(set(raw) - set(REQUIRED_IMAGES)):
        r.bad(f"{key}.{extra}", raw[extra], f"only these images take a tag: {', '.join(REQUIRED_IMAGES)}")
    return ImageTags(tags.get("frontend", ""), tags.get("postgres", ""))


def _replication(r: Reader, region: str) -> tuple[bool, str | None]:
    """Whether backups are copied to a second region, and which one (never the stack's own)."""
    if not r.boolean("replicateBackups"):
        return False, None
    allowed = "an AWS region name that exists, required when replicateBackups is true"
    replica_region = r.string("replicaRegion", is_region, allowed)
    if replica_region == region:
        r.bad(r.key("replicaRegion"), replica_region, f"a region other than aws:region ({region})")
    return True, replica_region


def _ownership(r: Reader) -> tuple[float, str]:
    """The monthly budget the cost gate holds the stack to, and the team that owns it."""
    budget = r.positive_number("monthlyBudgetUsd", "a number of US dollars greater than 0")
    allowed = (
        "the team that owns the stack (tag `owner`): letters, digits, spaces and _ . : / = + - @ (an AWS tag value)"
    )
    return budget, r.string("owner", lambda v: TAG_VALUE.fullmatch(v) and not key_material(v), allowed)


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
