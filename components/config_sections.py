"""The sections of a stack's settings, each read with its checks: identity, names, machine,
backup schedule, edge and running hours, recovery, retention, access, images, replication, firewall,
ownership, topology; and the limits they check against (instance shapes, retention periods, volume sizes).

components/config.py reads them in order into one StackConfig and raises every problem
together; a new setting gets a section here (or joins one), a field on StackConfig and a
key in KNOWN_KEYS.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from components.config_checks import (
    HHMM,
    HOSTNAME,
    IMAGE_TAG,
    PUBLIC_KEY,
    TAG_VALUE,
    ZONE_ID,
    Reader,
    is_region,
    is_time_zone,
    key_material,
)
from components.config_limits import ARCHIVE_SHIPPING_SECONDS, DEFAULT_ARCHIVE_TIMEOUT_SECONDS, admin_cidrs
from components.office_hours import (
    BACKUP_BEFORE_STOP_MINUTES,
    DAY_SETS,
    PAUSE_BEFORE_STOP_MINUTES,
    WARM_UP_MINUTES,
    OfficeHours,
    dst_trouble,
    hhmm,
    minutes,
)

Environment = Literal["prod", "staging"]
SshMode = Literal["ssm", "direct"]
Edge = Literal["alb", "host"]
WafMode = Literal["block", "count", "off"]
WAF_MODES: tuple[WafMode, ...] = ("block", "count", "off")


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


@dataclass(frozen=True)
class ImageTags:
    frontend: str
    postgres: str


def identity(r: Reader, stack: str) -> tuple[Environment, str]:
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


def names(r: Reader) -> tuple[str, str, str, str | None]:
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


def machine(r: Reader) -> tuple[str, int]:
    """The host's instance type and the size of its data volume."""
    return r.one_of("instanceType", tuple(INSTANCE_TYPES)) or "", r.integer("dataVolumeSizeGb", *VOLUME_SIZE_GB)


def backup_schedule(r: Reader) -> tuple[str, str]:
    """When the daily backups run: a local time and the time zone it is in."""
    backup_time = r.string("backupTime", HHMM.fullmatch, "a 24-hour time HH:MM such as 02:00", default="02:00")
    time_zone = r.string("timeZone", is_time_zone, "an IANA time zone such as America/Mexico_City")
    return backup_time, time_zone


def recovery(r: Reader, environment: Environment) -> tuple[int, int, int, int]:
    """How far back a restore reaches (at least the environment's minimum), how much data may be lost."""
    low = MIN_RECOVERY_WINDOW[environment]
    allowed = f"a whole number of days from {low} ({environment} minimum) to 3650"
    window = r.integer("recoveryWindowDays", low, 3650, allowed=allowed)
    archive_timeout = r.integer("archiveTimeoutSeconds", 30, 3600, default=DEFAULT_ARCHIVE_TIMEOUT_SECONDS)
    rpo = r.integer("rpoSeconds", 30 + ARCHIVE_SHIPPING_SECONDS, 86400, default=60)
    limit = rpo - ARCHIVE_SHIPPING_SECONDS
    if archive_timeout > limit and not (r.has_problem("archiveTimeoutSeconds") or r.has_problem("rpoSeconds")):
        r.bad(
            r.key("archiveTimeoutSeconds"),
            archive_timeout,
            f"at most rpoSeconds ({rpo}) - {ARCHIVE_SHIPPING_SECONDS} = {limit}: a WAL segment may wait this long "
            f"before it is closed, and then needs up to {ARCHIVE_SHIPPING_SECONDS} s to reach S3, "
            "so a longer timeout can lose more than the RPO goal allows",
        )
    return window, archive_timeout, rpo, r.integer("snapshotRetentionDays", 1, 365)


def retention(r: Reader, window: int) -> tuple[int, int, int]:
    """How long logs and old object versions are kept; a backup version outlives the recovery window."""
    allowed = f"a CloudWatch Logs retention period: one of {', '.join(map(str, LOG_RETENTION_DAYS))}"
    log_days = r.one_of("logRetentionDays", LOG_RETENTION_DAYS, allowed=allowed) or LOG_RETENTION_DAYS[0]
    access_log_days = r.integer("accessLogExpirationDays", 1, 3650)
    allowed = f"a whole number of days of at least recoveryWindowDays ({window})"
    noncurrent = r.integer("noncurrentVersionExpirationDays", window, 3650, default=window + 7, allowed=allowed)
    return log_days, access_log_days, noncurrent


def access(r: Reader) -> tuple[SshMode, tuple[str, ...], str]:
    """How operators and the deploy reach the host: SSM or direct SSH from admin networks, with which key."""
    ssh_mode: SshMode = "direct" if r.one_of("sshMode", ("ssm", "direct"), default="ssm") == "direct" else "ssm"
    cidrs = admin_cidrs(r, ssh_mode)
    key_allowed = "an OpenSSH public key line (ssh-ed25519, ssh-rsa or ecdsa-sha2-*)"
    public_key = r.string("operatorPublicKey", lambda v: PUBLIC_KEY.fullmatch(v.strip()), key_allowed)
    return ssh_mode, cidrs, public_key.strip()


def images(r: Reader, is_prod: bool) -> ImageTags:
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


def replication(r: Reader, region: str, environment: Environment) -> tuple[bool, str | None]:
    """Whether backups are copied to a second region, and which one (never the stack's own).

    On by default in prod (the policy pack requires it there); staging opts in."""
    if not r.boolean("replicateBackups", default=environment == "prod"):
        return False, None
    allowed = "an AWS region name that exists, required when replicateBackups is true"
    replica_region = r.string("replicaRegion", is_region, allowed)
    if replica_region == region:
        r.bad(r.key("replicaRegion"), replica_region, f"a region other than aws:region ({region})")
    return True, replica_region


def firewall(r: Reader, environment: Environment, edge: Edge) -> WafMode:
    """What the WAF on the load balancer does: block (prod's default), count only (a first week,
    to see what it would block), or off (staging's default; the policy pack requires it in prod).
    With `edge: host` there is no load balancer to attach it to: only `off`."""
    default: WafMode = "block" if environment == "prod" and edge == "alb" else "off"
    chosen = r.one_of("waf", WAF_MODES, default=default)
    if edge == "host" and chosen not in (None, "off"):
        r.bad(
            r.key("waf"),
            chosen,
            "off with edge: host (the WAF attaches to the load balancer): set waf: off or edge: alb",
        )
        return "off"
    for mode in WAF_MODES:
        if mode == chosen:
            return mode
    return default


def ownership(r: Reader) -> tuple[float, str]:
    """The monthly budget the cost gate holds the stack to, and the team that owns it."""
    budget = r.positive_number("monthlyBudgetUsd", "a number of US dollars greater than 0")
    allowed = (
        "the team that owns the stack (tag `owner`): letters, digits, spaces and _ . : / = + - @ (an AWS tag value)"
    )
    return budget, r.string("owner", lambda v: TAG_VALUE.fullmatch(v) and not key_material(v), allowed)


def edge(r: Reader, zone_id: str | None) -> Edge:
    """Where TLS ends: the ALB (`alb`, prod's design) or Traefik on the host's Elastic IP (`host`)."""
    chosen: Edge = "host" if r.one_of("edge", ("alb", "host"), default="alb") == "host" else "alb"
    if chosen == "host" and zone_id is None and not r.has_problem("route53ZoneId"):
        r.bad(
            r.key("route53ZoneId"),
            None,
            "a Route53 hosted zone id when edge is host: Traefik obtains its certificates by DNS-01 in that zone "
            "(set route53ZoneId, or set edge to alb)",
        )
    return chosen


SCHEDULE_ALLOWED = (
    "`always`, or office hours: a map {days: MON-FRI|MON-SAT|MON-SUN, start: HH:MM, stop: HH:MM} "
    'in the stack\'s timeZone, e.g. {days: MON-FRI, start: "07:00", stop: "21:00"}'
)


def schedule(r: Reader, backup_time: str, time_zone: str) -> OfficeHours | None:
    """When the host runs: always (None), or office hours whose running time holds the daily backup."""
    raw = r.raw("schedule")
    key = r.key("schedule")
    if raw is None or raw == "always":
        return None
    if not isinstance(raw, dict) or set(raw) != {"days", "start", "stop"}:
        r.bad(key, raw, SCHEDULE_ALLOWED)
        return None
    days, start, stop = raw["days"], raw["start"], raw["stop"]
    problems = len(r.problems)
    if days not in DAY_SETS:
        r.bad(f"{key}.days", days, f"one of: {', '.join(DAY_SETS)}")
    for part, value in (("start", start), ("stop", stop)):
        if not isinstance(value, str) or not HHMM.fullmatch(value):
            r.bad(f"{key}.{part}", value, "a 24-hour time HH:MM such as 07:00 (quote it in YAML)")
    if len(r.problems) > problems or not time_zone:
        return None
    hours = OfficeHours(days, start, stop, time_zone)
    shortest = WARM_UP_MINUTES + BACKUP_BEFORE_STOP_MINUTES + PAUSE_BEFORE_STOP_MINUTES
    if minutes(stop) - minutes(start) < shortest:
        why = (
            f"at least {shortest} minutes after start ({start}), the same day: the host warms up for "
            f"{WARM_UP_MINUTES} minutes and the backup needs {BACKUP_BEFORE_STOP_MINUTES} before the stop"
        )
        r.bad(f"{key}.stop", stop, why)
        return None
    for part, value in (("start", start), ("stop", stop)):
        if trouble := dst_trouble(value, time_zone, (2026, 2027)):
            r.bad(f"{key}.{part}", value, f"a time every day has once: {trouble}; move it out of the DST change")
    if not r.has_problem("backupTime"):  # a backup time that is no time is reported once, as such
        _backup_inside(r, hours, backup_time)
    return hours


def _backup_inside(r: Reader, hours: OfficeHours, backup_time: str) -> None:
    earliest = minutes(hours.start) + WARM_UP_MINUTES
    latest = minutes(hours.stop) - BACKUP_BEFORE_STOP_MINUTES
    if not earliest <= minutes(backup_time) <= latest:
        r.bad(
            r.key("backupTime"),
            backup_time,
            f"a time inside the running hours of schedule ({hours.start}-{hours.stop} {hours.time_zone}): "
            f"from {hhmm(earliest)} to {hhmm(latest)}, since a stopped host takes no backup; "
            f"set backupTime to e.g. {hhmm(earliest)}, or widen the schedule",
        )


# ----------------------------------------------------------------- topology

Topology = Literal["single-host", "ecs"]
TOPOLOGIES: tuple[Topology, ...] = ("single-host", "ecs")
# RDS and ElastiCache sizes the scale-out topology may use (Graviton, each priced in the price book).
DATABASE_CLASSES = ("db.t4g.micro", "db.t4g.small", "db.t4g.medium", "db.t4g.large", "db.m7g.large", "db.m7g.xlarge")
CACHE_NODE_TYPES = ("cache.t4g.micro", "cache.t4g.small", "cache.t4g.medium", "cache.m7g.large")
MAX_TASKS = 20
MAX_RDS_BACKUP_DAYS = 35
# The smallest sizes that carry each environment; prod keeps a task in each of the two zones.
SCALE_OUT_DEFAULTS = {
    "prod": {
        "minTasks": 2,
        "maxTasks": 6,
        "databaseInstanceClass": "db.t4g.medium",
        "cacheNodeType": "cache.t4g.small",
    },
    "staging": {
        "minTasks": 1,
        "maxTasks": 2,
        "databaseInstanceClass": "db.t4g.micro",
        "cacheNodeType": "cache.t4g.micro",
    },
}


@dataclass(frozen=True)
class ScaleOut:
    """How the `ecs` topology is sized: tasks per stateless service, the database and cache node sizes."""

    min_tasks: int
    max_tasks: int
    database_instance_class: str
    cache_node_type: str


def topology(
    r: Reader, environment: Environment, window: int, edge: Edge, running: OfficeHours | None
) -> tuple[Topology, ScaleOut]:
    """One host with every container (`single-host`), or Fargate services with RDS and ElastiCache (`ecs`);
    `edge` and `schedule` say where TLS ends and when the host runs, so with `ecs` (no host) each must be
    the one that needs none."""
    allowed = "single-host (every container on one EC2 host) or ecs (Fargate, RDS, ElastiCache)"
    chosen: Topology = (
        "ecs" if r.one_of("topology", TOPOLOGIES, default="single-host", allowed=allowed) == "ecs" else "single-host"
    )
    defaults = SCALE_OUT_DEFAULTS[environment]
    low, high = _task_bounds(r, environment, defaults)
    database = r.one_of("databaseInstanceClass", DATABASE_CLASSES, default=str(defaults["databaseInstanceClass"]))
    cache = r.one_of("cacheNodeType", CACHE_NODE_TYPES, default=str(defaults["cacheNodeType"]))
    if chosen == "ecs" and window > MAX_RDS_BACKUP_DAYS and not r.has_problem("recoveryWindowDays"):
        r.bad(
            r.key("recoveryWindowDays"),
            window,
            f"at most {MAX_RDS_BACKUP_DAYS} days with topology ecs: RDS keeps automated backups (point-in-time "
            "restore) for 35 days at most",
        )
    if chosen == "ecs":
        _without_host(r, edge, running)
    return chosen, ScaleOut(low, high, database or "", cache or "")


def _without_host(r: Reader, edge: Edge, running: OfficeHours | None) -> None:
    """The `ecs` topology has no EC2 host: no Traefik to end TLS on its Elastic IP, no host to stop off hours."""
    if edge == "host":
        r.bad(
            r.key("edge"),
            edge,
            "alb with topology ecs: edge host ends TLS in Traefik on the EC2 host, and ecs has no host; its "
            "Fargate services are reached through the load balancer (set edge to alb, or topology to single-host)",
        )
    if running is not None:
        r.bad(
            r.key("schedule"),
            r.raw("schedule"),
            "always with topology ecs: a schedule stops and starts the EC2 host, and ecs has none (remove "
            "schedule or set it to always, or set topology to single-host)",
        )


def _task_bounds(r: Reader, environment: Environment, defaults: Mapping[str, object]) -> tuple[int, int]:
    """`ecsScaling: {minTasks, maxTasks}`: the auto scaling bounds of every Fargate service."""
    raw = r.raw("ecsScaling")
    key = r.key("ecsScaling")
    raw = {} if raw is None else raw
    if not isinstance(raw, dict) or set(raw) - {"minTasks", "maxTasks"}:
        r.bad(key, raw, "a map with minTasks and maxTasks, e.g. {minTasks: 2, maxTasks: 6}")
        return int(str(defaults["minTasks"])), int(str(defaults["maxTasks"]))
    low_min = 2 if environment == "prod" else 1
    values = {name: raw.get(name, defaults[name]) for name in ("minTasks", "maxTasks")}
    low, high = values["minTasks"], values["maxTasks"]
    if type(low) is not int or not low_min <= low <= MAX_TASKS:
        why = " (prod keeps a task in each of its two availability zones)" if environment == "prod" else ""
        r.bad(f"{key}.minTasks", low, f"a whole number from {low_min} to {MAX_TASKS}{why}")
        return low_min, MAX_TASKS
    if type(high) is not int or not low <= high <= MAX_TASKS:
        r.bad(f"{key}.maxTasks", high, f"a whole number from minTasks ({low}) to {MAX_TASKS}")
        return low, MAX_TASKS
    return low, high
