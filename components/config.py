"""StackConfig: the typed, validated view of one stack's settings.

Nothing else in the program reads `pulumi.Config`. Every setting is parsed here
and checked; all problems are collected and raised together as one ConfigError
before any resource is registered, so an operator fixes a settings file in one
pass instead of one error per `pulumi preview`.
"""

from __future__ import annotations

import ipaddress
import re
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi

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

_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})+$")
_ZONE_ID = re.compile(r"^Z[A-Z0-9]{1,31}$")
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_EMAIL = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
_IMAGE_TAG = re.compile(r"^([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|sha256:[0-9a-f]{64})$")
_PUBLIC_KEY = re.compile(r"^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]{40,}={0,2}( \S.*)?$")


@dataclass(frozen=True)
class ConfigProblem:
    key: str
    value: object
    allowed: str

    def __str__(self) -> str:
        return f"{self.key} = {self.value!r}: {self.allowed}"


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

    def name(self, suffix: str) -> str:
        """A physical name unique per project and stack, e.g. `quintas-crm-prod-backups`."""
        return f"quintas-crm-{self.stack}-{suffix}"

    @staticmethod
    def load() -> StackConfig:
        return _Reader(pulumi.get_project(), pulumi.get_stack()).read()


class _Reader:
    """Reads raw values and records every problem instead of stopping at the first."""

    def __init__(self, project: str, stack: str) -> None:
        self.project = project
        self.stack = stack
        self.cfg = pulumi.Config(PROJECT)
        self.aws = pulumi.Config("aws")
        self.problems: list[ConfigProblem] = []

    def bad(self, key: str, value: object, allowed: str) -> None:
        self.problems.append(ConfigProblem(key, value, allowed))

    def key(self, name: str) -> str:
        return f"{PROJECT}:{name}"

    def raw(self, name: str, config: pulumi.Config | None = None) -> Any:
        c = config or self.cfg
        try:
            return c.get_object(name)
        except Exception:  # noqa: BLE001 not JSON: a plain string value
            return c.get(name)

    def string(self, name: str, check: Callable[[str], bool], allowed: str, default: str | None = None) -> str:
        value = self.raw(name)
        if value is None and default is not None:
            return default
        if not isinstance(value, str) or not check(value):
            self.bad(self.key(name), value, allowed)
            return default or ""
        return value

    def integer(self, name: str, low: int, high: int, default: int | None = None, allowed: str = "") -> int:
        value = self.raw(name)
        if value is None and default is not None:
            return default
        ok = isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
        if not ok:
            self.bad(self.key(name), value, allowed or f"a whole number from {low} to {high}")
            return default if default is not None else low
        assert isinstance(value, int)
        return value

    def read(self) -> StackConfig:
        env = self.string("environment", lambda v: v in ("prod", "staging"), "one of: prod, staging")
        environment: Environment = "prod" if env == "prod" else "staging"
        is_prod = environment == "prod"

        region = self.raw("region", self.aws)
        if not isinstance(region, str) or not _REGION.match(region):
            self.bad("aws:region", region, "an AWS region name such as us-east-1")
            region = "us-east-1"

        hostname = "a lower-case DNS name with at least two labels, e.g. app.example.com"
        app_host = self.string("appHost", lambda v: bool(_HOSTNAME.match(v)), hostname)
        cms_host = self.string("cmsHost", lambda v: bool(_HOSTNAME.match(v)), hostname)
        grafana_host = self.string("grafanaHost", lambda v: bool(_HOSTNAME.match(v)), hostname)
        hosts = [h for h in (app_host, cms_host, grafana_host) if h]
        if len(set(hosts)) != len(hosts):
            self.bad(self.key("cmsHost"), cms_host, "appHost, cmsHost and grafanaHost must all differ")

        zone = self.raw("route53ZoneId")
        if zone is not None and (not isinstance(zone, str) or not _ZONE_ID.match(zone)):
            self.bad(self.key("route53ZoneId"), zone, "a Route53 hosted zone id such as Z0123456789ABC, or unset")
            zone = None

        instance_type = self.string(
            "instanceType", lambda v: v in INSTANCE_TYPES, f"one of: {', '.join(INSTANCE_TYPES)}"
        )
        volume = self.integer("dataVolumeSizeGb", *VOLUME_SIZE_GB)
        backup_time = self.string(
            "backupTime", lambda v: bool(_HHMM.match(v)), "a 24-hour time HH:MM such as 02:00", default="02:00"
        )
        time_zone = self.string("timeZone", _is_time_zone, "an IANA time zone such as America/Mexico_City")

        min_window = MIN_RECOVERY_WINDOW[environment]
        window = self.integer(
            "recoveryWindowDays",
            min_window,
            3650,
            allowed=f"a whole number of days from {min_window} ({environment} minimum) to 3650",
        )
        archive_timeout = self.integer("archiveTimeoutSeconds", 30, 3600, default=60)
        rpo = self.integer("rpoSeconds", 30, 86400, default=60)
        snapshots = self.integer("snapshotRetentionDays", 1, 365)
        log_days = self.integer(
            "logRetentionDays",
            1,
            1827,
            allowed=f"a CloudWatch Logs retention period: one of {', '.join(map(str, LOG_RETENTION_DAYS))}",
        )
        if log_days not in LOG_RETENTION_DAYS and not any(p.key == self.key("logRetentionDays") for p in self.problems):
            self.bad(
                self.key("logRetentionDays"),
                log_days,
                f"a CloudWatch Logs retention period: one of {', '.join(map(str, LOG_RETENTION_DAYS))}",
            )
        access_log_days = self.integer("accessLogExpirationDays", 1, 3650)
        noncurrent = self.integer(
            "noncurrentVersionExpirationDays",
            window,
            3650,
            default=window + 7,
            allowed=f"a whole number of days of at least recoveryWindowDays ({window})",
        )

        emails = self.raw("alertEmails")
        if (
            not isinstance(emails, list)
            or not emails
            or not all(isinstance(e, str) and _EMAIL.match(e) for e in emails)
        ):
            self.bad(self.key("alertEmails"), emails, "a non-empty list of e-mail addresses")
            emails = []

        ssh_mode_raw = self.string("sshMode", lambda v: v in ("ssm", "direct"), "one of: ssm, direct", default="ssm")
        ssh_mode: SshMode = "direct" if ssh_mode_raw == "direct" else "ssm"
        cidrs = self._cidrs(ssh_mode)

        public_key = self.string(
            "operatorPublicKey",
            lambda v: bool(_PUBLIC_KEY.match(v.strip())),
            "an OpenSSH public key line (ssh-ed25519, ssh-rsa or ecdsa-sha2-*)",
        )
        image_tags = self._image_tags(is_prod)

        replicate = self.raw("replicateBackups")
        if replicate is None:
            replicate = False
        if not isinstance(replicate, bool):
            self.bad(self.key("replicateBackups"), replicate, "true or false")
            replicate = False
        replica_region = self.raw("replicaRegion")
        if replicate and (not isinstance(replica_region, str) or not _REGION.match(replica_region)):
            self.bad(
                self.key("replicaRegion"), replica_region, "an AWS region name, required when replicateBackups is true"
            )
        elif replicate and replica_region == region:
            self.bad(self.key("replicaRegion"), replica_region, f"a region other than aws:region ({region})")

        budget = self.raw("monthlyBudgetUsd")
        if not isinstance(budget, (int, float)) or isinstance(budget, bool) or budget <= 0:
            self.bad(self.key("monthlyBudgetUsd"), budget, "a number of US dollars greater than 0")
            budget = 0
        owner = self.string("owner", lambda v: bool(v.strip()), "the team that owns the stack (tag `owner`)")

        self._unknown_keys()
        if self.problems:
            raise ConfigError(self.stack, self.problems)
        return StackConfig(
            project=self.project,
            stack=self.stack,
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
            alert_emails=tuple(emails),
            ssh_mode=ssh_mode,
            admin_cidrs=cidrs,
            operator_public_key=public_key.strip(),
            image_tags=image_tags,
            replicate_backups=replicate,
            replica_region=replica_region if replicate else None,
            monthly_budget_usd=float(budget),
            tags={"project": self.project, "stack": self.stack, "owner": owner, "managed-by": "pulumi"},
        )

    def _unknown_keys(self) -> None:
        """A misspelt key would otherwise be ignored silently and its default used."""
        present = set(pulumi.runtime.config.CONFIG.get()) | set(pulumi.runtime.config.get_config_env())
        prefix = f"{PROJECT}:"
        for key in sorted(k for k in present if k.startswith(prefix)):
            if key[len(prefix) :] not in KNOWN_KEYS:
                self.bad(key, "(set)", f"a known setting; this project reads: {', '.join(sorted(KNOWN_KEYS))}")

    def _cidrs(self, ssh_mode: SshMode) -> tuple[str, ...]:
        raw = self.raw("adminCidrs")
        if raw is None:
            raw = []
        key = self.key("adminCidrs")
        if not isinstance(raw, list):
            self.bad(key, raw, "a list of CIDR blocks such as 203.0.113.10/32")
            return ()
        cidrs: list[str] = []
        for item in raw:
            try:
                net = ipaddress.ip_network(str(item), strict=True)
            except ValueError:
                self.bad(key, item, "a CIDR block with no host bits set, such as 203.0.113.10/32")
                continue
            if net.prefixlen == 0:
                self.bad(key, item, "a specific network: admin access is never open to 0.0.0.0/0 or ::/0")
                continue
            cidrs.append(str(net))
        if ssh_mode == "direct" and not raw:
            self.bad(key, raw, "at least one CIDR block when sshMode is direct")
        return tuple(cidrs)

    def _image_tags(self, is_prod: bool) -> ImageTags:
        raw = self.raw("imageTags")
        key = self.key("imageTags")
        if not isinstance(raw, dict):
            self.bad(key, raw, f"a map with the image tags of: {', '.join(REQUIRED_IMAGES)}")
            return ImageTags("", "")
        tags: dict[str, str] = {}
        for image in REQUIRED_IMAGES:
            value = raw.get(image)
            if not isinstance(value, str) or not _IMAGE_TAG.match(value):
                self.bad(f"{key}.{image}", value, "a Docker image tag (letters, digits, . _ -) or sha256 digest")
            elif is_prod and value == "latest":
                self.bad(f"{key}.{image}", value, "a fixed version: `latest` is not allowed in prod")
            else:
                tags[image] = value
        for extra in sorted(set(raw) - set(REQUIRED_IMAGES)):
            self.bad(f"{key}.{extra}", raw[extra], f"only these images take a tag: {', '.join(REQUIRED_IMAGES)}")
        return ImageTags(tags.get("frontend", ""), tags.get("postgres", ""))


def _is_time_zone(value: str) -> bool:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return "/" in value or value == "UTC"
