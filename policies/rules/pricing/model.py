"""How each billable AWS resource type turns into priced lines: quantity x unit price.

One rule per resource type reads the resource's properties (camelCase, as the
provider and the policy pack see them) and the usage assumptions, and returns
lines. Pure Python: no Pulumi runtime, so the policy pack can call it. Every
price comes from the price book; a missing price gives a "not priced" line,
never a zero.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .book import PriceBook
from .schedule import SCHEDULE, running_hours, runs_per_month

STACK = "(stack)"
GLOBAL_REGION = "us-east-1"  # Route 53 is a global service, billed as us-east-1
NOT_PRICED = "not priced"


@dataclass(frozen=True)
class Item:
    """One recorded resource as the estimator sees it."""

    type: str
    name: str
    props: Mapping[str, Any]
    region: str | None = None


@dataclass(frozen=True)
class Line:
    resource: str
    type: str
    item: str
    quantity: float
    unit: str
    unit_usd: float | None
    monthly_usd: float | None
    assumption: str
    price_key: str | None = None

    @property
    def priced(self) -> bool:
        return self.monthly_usd is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "resource": self.resource,
            "type": self.type,
            "item": self.item,
            "quantity": round(self.quantity, 6),
            "unit": self.unit,
            "unit_usd": self.unit_usd,
            "monthly_usd": None if self.monthly_usd is None else round(self.monthly_usd, 4),
            "assumption": self.assumption,
            "price_key": self.price_key,
        }


class Pricer:
    """What every rule sees: the price book, the stack's region, usage and all items."""

    def __init__(
        self, book: PriceBook, region: str, usage: Mapping[str, Any], items: Sequence[Item], settings: Mapping[str, Any]
    ) -> None:
        self.book = book
        self.region = region
        self.usage = usage
        self.items = items
        self.settings = settings
        self.hours = float(usage["hours_per_month"])

    def of_type(self, type_: str) -> list[Item]:
        return [i for i in self.items if i.type == type_]

    def line(self, it: Item, key: str, quantity: float, item: str, assumption: str = "") -> Line:
        region = GLOBAL_REGION if key.startswith("route53.") else (it.region or self.region)
        price = self.book.price(region, key)
        if price is None:
            why = f"no price {key} for {region} in {self.book.path.name}"
            return Line(it.name, it.type, item, quantity, "", None, None, f"{NOT_PRICED}: {why}", key)
        return Line(it.name, it.type, item, quantity, price.unit, price.usd, quantity * price.usd, assumption, key)


def not_priced(it: Item, why: str) -> Line:
    return Line(it.name, it.type, NOT_PRICED, 1, "resource", None, None, f"{NOT_PRICED}: {why}")


def _num(value: Any, default: float = 0.0) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default


# ----------------------------------------------------------------- compute and storage


def instance(p: Pricer, it: Item) -> list[Line]:
    itype = str(it.props.get("instanceType") or "")
    burst = "; average CPU at or below the burst baseline, so no surplus-credit charges" if itype[:1] == "t" else ""
    scheduled = running_hours(((s.name, s.props) for s in p.of_type(SCHEDULE)), p.hours)
    hours, when = scheduled or (p.hours, "runs all month")
    lines = [p.line(it, f"ec2.instance.{itype}", hours, f"{itype} instance hours", f"{when}{burst}")]
    root = it.props.get("rootBlockDevice") or {}
    size = _num(root.get("volumeSize"), _num(p.usage["root_volume_default_gb"]))
    size_note = "" if root.get("volumeSize") else f"size unset: the AMI's {size:g} GB assumed"
    lines += ebs(p, it, "root volume", size, str(root.get("volumeType") or "gp2"), root, size_note)
    for device in it.props.get("ebsBlockDevices") or []:
        label = f"volume {device.get('deviceName', '')}".strip()
        lines += ebs(p, it, label, _num(device.get("volumeSize")), str(device.get("volumeType") or "gp2"), device)
    if it.props.get("monitoring") is True:
        metrics = _num(p.usage["detailed_monitoring_metrics"])
        lines.append(
            p.line(
                it, "cloudwatch.metric", metrics, "detailed monitoring", f"{metrics:g} metrics at 1-minute resolution"
            )
        )
    if _auto_public_ip(p, it):
        lines.append(p.line(it, "vpc.public_ipv4", p.hours, "public IPv4 address", "auto-assigned, no Elastic IP"))
    return lines


def _auto_public_ip(p: Pricer, it: Item) -> bool:
    """An instance keeps an auto-assigned public IPv4 only while no Elastic IP replaces it."""
    asked = it.props.get("associatePublicIpAddress")
    if asked is None:
        asked = any(s.props.get("mapPublicIpOnLaunch") is True for s in p.of_type("aws:ec2/subnet:Subnet"))
    has_eip = any(e.props.get("instance") for e in p.of_type("aws:ec2/eip:Eip")) or bool(
        p.of_type("aws:ec2/eipAssociation:EipAssociation")
    )
    return bool(asked) and not has_eip


def ebs(
    p: Pricer, it: Item, label: str, size: float, vtype: str, spec: Mapping[str, Any], note: str = ""
) -> list[Line]:
    if vtype == "gp2":
        return [p.line(it, "ebs.gp2.storage", size, f"{label} gp2 storage", note)]
    if vtype != "gp3":
        return [not_priced(it, f"{label} type {vtype} has no price in the data file")]
    lines = [p.line(it, "ebs.gp3.storage", size, f"{label} gp3 storage", note)]
    iops, throughput = _num(spec.get("iops"), 3000), _num(spec.get("throughput"), 125)
    if iops > 3000:
        lines.append(p.line(it, "ebs.gp3.iops", iops - 3000, f"{label} IOPS above 3000", f"{iops:g} provisioned"))
    if throughput > 125:
        lines.append(
            p.line(
                it, "ebs.gp3.throughput", throughput - 125, f"{label} MiB/s above 125", f"{throughput:g} provisioned"
            )
        )
    return lines


def volume(p: Pricer, it: Item) -> list[Line]:
    return ebs(p, it, "volume", _num(it.props.get("size")), str(it.props.get("type") or "gp2"), it.props)


def lifecycle_policy(p: Pricer, it: Item) -> list[Line]:
    """DLM is free; the snapshots it keeps are priced here, from the volumes it targets."""
    details = it.props.get("policyDetails") or {}
    lines = [p.line(it, "dlm.policy", 1, "lifecycle policy", "Data Lifecycle Manager has no charge of its own")]
    schedules = details.get("schedules") or []
    if not schedules:
        return lines
    for name, gb, _, why in snapshot_gb(p, it, schedules[0]):
        lines.append(p.line(it, "ebs.snapshot.standard", gb, f"snapshots of {name}", why))
    return lines


def snapshot_gb(p: Pricer, it: Item, schedule: Mapping[str, Any]) -> list[tuple[str, float, float, str]]:
    """(volume, GB stored, GB changed a day, why) for each volume a DLM policy targets, keeping
    `schedule`'s retainRule: the first snapshot stores the used part, each later one what changed."""
    details = it.props.get("policyDetails") or {}
    retained = _retained(schedule, p.settings)
    interval_h = _num((((details.get("schedules") or [{}])[0]).get("createRule") or {}).get("interval"), 24)
    used = _num(p.usage["volume_used_fraction"])
    change = _num(p.usage["snapshot_daily_change_fraction"]) * interval_h / 24
    found = []
    for name, size in _targets(p, details, details.get("targetTags") or {}):
        why = (
            f"{retained:g} snapshots of {size:g} GB kept: the first stores the used {used:.0%},"
            f" each later one the {change * 100:.3g}% changed since the one before"
        )
        found.append((name, size * (used + change * max(retained - 1, 0)), size * change * 24 / interval_h, why))
    return found


def _retained(schedule: Mapping[str, Any], settings: Mapping[str, Any]) -> float:
    rule = schedule.get("retainRule") or {}
    if rule.get("count"):
        return _num(rule["count"])
    per_day = {"DAYS": 1, "WEEKS": 7, "MONTHS": 30, "YEARS": 365}
    if rule.get("interval"):
        return _num(rule["interval"]) * per_day.get(str(rule.get("intervalUnit", "DAYS")), 1)
    return _num(settings.get("snapshot_retention_days"), 7)


def _targets(p: Pricer, details: Mapping[str, Any], wanted: Mapping[str, Any]) -> list[tuple[str, float]]:
    def tagged(i: Item) -> bool:
        tags = i.props.get("tags") or {}
        return bool(wanted) and all(tags.get(k) == v for k, v in wanted.items())

    kinds = details.get("resourceTypes") or ["VOLUME"]
    found = [(v.name, _num(v.props.get("size"))) for v in p.of_type("aws:ebs/volume:Volume") if tagged(v)]
    if "INSTANCE" in kinds:
        for i in p.of_type("aws:ec2/instance:Instance"):
            if tagged(i):
                root = i.props.get("rootBlockDevice") or {}
                found.append((f"{i.name} root", _num(root.get("volumeSize"), _num(p.usage["root_volume_default_gb"]))))
    return found


def bucket(p: Pricer, it: Item) -> list[Line]:
    profiles: Mapping[str, Mapping[str, Any]] = p.usage["s3"]
    role = next((r for r in profiles if r != "other" and r in it.name), "other")
    use = profiles[role]
    why = f"assumed for the {role} bucket" if role != "other" else "assumed for a bucket with no usage profile"
    return [
        p.line(it, "s3.standard.storage", _num(use["gb"]), "Standard storage", f"{use['gb']:g} GB {why}"),
        p.line(it, "s3.standard.put", _num(use["put"]) / 1000, "PUT/LIST requests", f"{use['put']:g} a month {why}"),
        p.line(it, "s3.standard.get", _num(use["get"]) / 1000, "GET requests", f"{use['get']:g} a month {why}"),
    ]


def replication(p: Pricer, it: Item) -> list[Line]:
    gb = _num(p.usage["s3_replicated_gb_per_month"])
    return [p.line(it, "s3.replication.transfer", gb, "cross-region replication", f"{gb:g} GB of new objects a month")]


def ecr_repository(p: Pricer, it: Item) -> list[Line]:
    gb = _num(p.usage["ecr_gb_per_repository"])
    return [p.line(it, "ecr.storage", gb, "image storage", f"{gb:g} GB of layers kept")]


def eip(p: Pricer, it: Item) -> list[Line]:
    return [p.line(it, "vpc.public_ipv4", p.hours, "Elastic IP (public IPv4)", "held all month")]


# ----------------------------------------------------------------- load balancing, monitoring, DNS


def load_balancer(p: Pricer, it: Item) -> list[Line]:
    kind = str(it.props.get("loadBalancerType") or "application")
    if kind != "application":
        return [not_priced(it, f"a {kind} load balancer has no price in the data file")]
    lcu = _num(p.usage["alb_lcu"])
    lines = [
        p.line(it, "elb.alb.hour", p.hours, "ALB hours", "runs all month"),
        p.line(it, "elb.alb.lcu", lcu * p.hours, "ALB capacity units", f"{lcu:g} LCU on average"),
    ]
    if it.props.get("internal") is not True:
        zones = len(it.props.get("subnets") or it.props.get("subnetMappings") or []) or 2
        lines.append(
            p.line(it, "vpc.public_ipv4", zones * p.hours, "public IPv4 addresses", f"one per AZ: {zones} subnets")
        )
    return lines


def metric_alarm(p: Pricer, it: Item) -> list[Line]:
    queries = it.props.get("metricQueries") or []
    metrics = sum(1 for q in queries if q.get("metric") is not None) or 1
    high = 0 < _num(it.props.get("period"), 60) < 60
    key = "cloudwatch.alarm.high_resolution" if high else "cloudwatch.alarm.standard"
    kind = "high-resolution" if high else "standard"
    why = f"{metrics} metric{'s' * (metrics > 1)} evaluated"
    if not queries and not it.props.get("metricName"):
        why = "its metrics are not known yet (first preview): 1 assumed"
    return [p.line(it, key, metrics, f"{kind} alarm", why)]


def composite_alarm(p: Pricer, it: Item) -> list[Line]:
    return [p.line(it, "cloudwatch.alarm.composite", 1, "composite alarm")]


def dashboard(p: Pricer, it: Item) -> list[Line]:
    return [p.line(it, "cloudwatch.dashboard", 1, "dashboard")]


def log_group(p: Pricer, it: Item) -> list[Line]:
    """Named groups (flow log, WAF) ingest what `log_ingest_gb_by_group` says; the container groups
    share the stack's `log_ingest_gb_per_month`."""
    own: Mapping[str, float] = p.usage.get("log_ingest_gb_by_group") or {}
    mine = next((gb for part, gb in own.items() if part in it.name), None)
    shared = [g for g in p.of_type(it.type) if not any(part in g.name for part in own)]
    total = _num(p.usage["log_ingest_gb_per_month"])
    ingest = _num(mine) if mine is not None else total / max(len(shared), 1)
    why = (
        f"{ingest:g} GB a month assumed for this group"
        if mine is not None
        else (f"stack's {total:g} GB a month split over {len(shared)} log groups")
    )
    days = _num(it.props.get("retentionInDays"))
    months = days / (p.hours / 24) if days else 12.0
    kept = f"kept {days:g} days" if days else "never expires: 12 months assumed"
    return [
        p.line(it, "cloudwatch.logs.ingest", ingest, "log ingestion", why),
        p.line(it, "cloudwatch.logs.storage", ingest * months, "log storage", f"{kept}, uncompressed (upper bound)"),
    ]


def health_check(p: Pricer, it: Item) -> list[Line]:
    kind = str(it.props.get("type") or "")
    if kind in ("CALCULATED", "CLOUDWATCH_METRIC", "RECOVERY_CONTROL"):
        return [p.line(it, "route53.health_check.aws", 1, f"{kind.lower()} health check")]
    fqdn = str(it.props.get("fqdn") or "")
    on_aws = fqdn.endswith(".amazonaws.com")
    where = "aws" if on_aws else "non_aws"
    why = "endpoint in AWS" if on_aws else "a domain name is priced as a non-AWS endpoint (upper bound)"
    features = [
        name
        for name, on in (
            ("HTTPS", kind.startswith("HTTPS")),
            ("string matching", kind.endswith("STR_MATCH")),
            ("fast interval", _num(it.props.get("requestInterval"), 30) == 10),
            ("latency measurement", it.props.get("measureLatency") is True),
        )
        if on
    ]
    lines = [p.line(it, f"route53.health_check.{where}", 1, f"{kind or 'endpoint'} health check", why)]
    if features:
        lines.append(p.line(it, f"route53.health_check.feature.{where}", len(features), "optional features",
                            ", ".join(features)))  # fmt: skip
    return lines


def hosted_zone(p: Pricer, it: Item) -> list[Line]:
    return [p.line(it, "route53.hosted_zone", 1, "hosted zone", "queries to alias records of AWS resources are free")]


def topic(p: Pricer, it: Item) -> list[Line]:
    sent = _num(p.usage["alert_notifications_per_month"])
    emails = _email_subscriptions(p, it)
    lines = [p.line(it, "sns.publish", sent / 1e6, "publishes", f"{sent:g} notifications a month")]
    if emails:
        lines.append(p.line(it, "sns.email", sent * emails / 1e5, "e-mail deliveries", f"{sent:g} x {emails} e-mail subscribers"))  # fmt: skip
    return lines


def _email_subscriptions(p: Pricer, it: Item) -> int:
    subs = [s for s in p.of_type("aws:sns/topicSubscription:TopicSubscription") if str(s.props.get("protocol", "")).startswith("email")]  # fmt: skip
    name = it.props.get("name")
    mine = [s for s in subs if name and str(s.props.get("topic", "")).endswith(f":{name}")]
    if mine or len(p.of_type(it.type)) > 1:
        return len(mine)
    return len(subs)


def kms_key(p: Pricer, it: Item) -> list[Line]:
    requests = _num(p.usage["kms_requests_per_month"])
    return [
        p.line(it, "kms.key", 1, "customer managed key"),
        p.line(it, "kms.requests", requests / 1e4, "requests", f"{requests:g} a month"),
    ]


def schedule(p: Pricer, it: Item) -> list[Line]:
    runs, why = runs_per_month(str(it.props.get("scheduleExpression") or ""), p.hours)
    return [p.line(it, "scheduler.invocation", runs / 1e6, "scheduled invocations", why)]


def secret(p: Pricer, it: Item) -> list[Line]:
    return [p.line(it, "secretsmanager.secret", 1, "secret")]


RULES: Mapping[str, Callable[[Pricer, Item], list[Line]]] = {
    "aws:ec2/instance:Instance": instance,
    "aws:ebs/volume:Volume": volume,
    "aws:dlm/lifecyclePolicy:LifecyclePolicy": lifecycle_policy,
    "aws:s3/bucket:Bucket": bucket,
    "aws:s3/bucketV2:BucketV2": bucket,
    "aws:s3/bucketReplicationConfig:BucketReplicationConfig": replication,
    "aws:ec2/eip:Eip": eip,
    "aws:lb/loadBalancer:LoadBalancer": load_balancer,
    "aws:alb/loadBalancer:LoadBalancer": load_balancer,
    "aws:cloudwatch/metricAlarm:MetricAlarm": metric_alarm,
    "aws:cloudwatch/compositeAlarm:CompositeAlarm": composite_alarm,
    "aws:cloudwatch/dashboard:Dashboard": dashboard,
    "aws:cloudwatch/logGroup:LogGroup": log_group,
    "aws:route53/healthCheck:HealthCheck": health_check,
    "aws:route53/zone:Zone": hosted_zone,
    "aws:sns/topic:Topic": topic,
    "aws:kms/key:Key": kms_key,
    "aws:ecr/repository:Repository": ecr_repository,
    "aws:secretsmanager/secret:Secret": secret,
    SCHEDULE: schedule,
}


def stack_lines(p: Pricer) -> list[Line]:
    """Costs of the whole stack that no single resource carries: traffic to the internet."""
    gb = _num(p.usage["data_transfer_out_gb"])
    it = Item("stack", STACK, {})
    return [p.line(it, "transfer.internet_out", gb, "data transfer out to the internet", f"{gb:g} GB a month")]
