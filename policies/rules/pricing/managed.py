"""Price rules of the `ecs` topology's managed services: Fargate tasks, RDS, ElastiCache and
Container Insights. Pure Python like model.py, whose Pricer and lines these rules use;
`PRICE_RULES` is every rule of both.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .model import RULES, Item, Line, Pricer, _num, not_priced

GIB = 1024.0


def _task_definition(p: Pricer, service: Item) -> Item | None:
    """The service's task definition: by family in its (known) ARN, else the one with the service's name."""
    arn = str(service.props.get("taskDefinition") or "")
    family = arn.rsplit("/", 1)[-1].split(":", 1)[0]
    definitions = p.of_type("aws:ecs/taskDefinition:TaskDefinition")
    by_family = [d for d in definitions if family and d.props.get("family") == family]
    by_name = [d for d in definitions if d.name == service.name]
    return (by_family or by_name or [None])[0]


def ecs_service(p: Pricer, it: Item) -> list[Line]:
    """Fargate bills each running task's vCPUs and memory by the hour, and its public IPv4 address."""
    if it.props.get("launchType") not in ("FARGATE", None):
        return [not_priced(it, f"launch type {it.props.get('launchType')} has no price in the data file")]
    definition = _task_definition(p, it)
    if definition is None:
        return [not_priced(it, "its task definition is not in the stack: CPU and memory unknown")]
    vcpus = _num(_float(definition.props.get("cpu"))) / 1024
    memory_gb = _num(_float(definition.props.get("memory"))) / GIB
    platform = definition.props.get("runtimePlatform") or {}
    arch = "arm64" if platform.get("cpuArchitecture") == "ARM64" else "x86_64"
    tasks = _num(it.props.get("desiredCount"), 1)
    why = f"{tasks:g} task{'s' * (tasks != 1)} (the auto scaling minimum) all month; each task above it adds its share"
    lines = [
        p.line(it, f"fargate.{arch}.vcpu", tasks * vcpus * p.hours, f"Fargate vCPU ({vcpus:g} per task)", why),
        p.line(it, f"fargate.{arch}.memory", tasks * memory_gb * p.hours, f"Fargate memory ({memory_gb:g} GB)", why),
    ]
    network = it.props.get("networkConfiguration") or {}
    if network.get("assignPublicIp") is True:
        lines.append(p.line(it, "vpc.public_ipv4", tasks * p.hours, "public IPv4 addresses", f"one per task: {why}"))
    return lines


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def ecs_cluster(p: Pricer, it: Item) -> list[Line]:
    """Container Insights publishes custom metrics per cluster and per service."""
    settings = it.props.get("settings") or []
    if not any(s.get("name") == "containerInsights" and s.get("value") in ("enabled", "enhanced") for s in settings):
        return []
    services = len(p.of_type("aws:ecs/service:Service"))
    per = _num(p.usage["container_insights_metrics_per_service"])
    count = per * (services + 1)
    why = f"{per:g} metrics for the cluster and for each of its {services} services"
    return [p.line(it, "cloudwatch.metric", count, "Container Insights metrics", why)]


def rds_instance(p: Pricer, it: Item) -> list[Line]:
    klass = str(it.props.get("instanceClass") or "")
    engine = str(it.props.get("engine") or "")
    if engine != "postgres":
        return [not_priced(it, f"engine {engine or '(unset)'} has no price in the data file")]
    multi = it.props.get("multiAz") is True
    size = _num(it.props.get("allocatedStorage"))
    storage_type = str(it.props.get("storageType") or "gp2")
    lines = [p.line(it, f"rds.postgres.{klass}", p.hours, f"{klass} instance hours", "runs all month")]
    if storage_type != "gp3":
        lines.append(not_priced(it, f"storage type {storage_type} has no price in the data file"))
    else:
        lines.append(p.line(it, "rds.gp3.storage", size, "gp3 storage", f"{size:g} GB allocated"))
    if multi:
        lines.append(p.line(it, f"rds.postgres.{klass}", p.hours, "Multi-AZ standby instance hours", "runs all month"))
        lines.append(p.line(it, "rds.gp3.storage", size, "Multi-AZ standby storage", f"{size:g} GB"))
    days = _num(it.props.get("backupRetentionPeriod"))
    used, change = _num(p.usage["volume_used_fraction"]), _num(p.usage["snapshot_daily_change_fraction"])
    backups = size * (used + change * days)
    billed = max(0.0, backups - size)
    why = (
        f"{days:g} days of automated backups: the used {used:.0%} plus {change:.1%} changed a day is {backups:g} GB;"
        f" as much as the allocated {size:g} GB is free"
    )
    lines.append(p.line(it, "rds.backup.storage", billed, "backup storage above the free allowance", why))
    return lines


def replication_group(p: Pricer, it: Item) -> list[Line]:
    node = str(it.props.get("nodeType") or "")
    nodes = _num(it.props.get("numCacheClusters"), 1)
    why = f"{nodes:g} node{'s' * (nodes != 1)} all month"
    return [p.line(it, f"elasticache.{node}", nodes * p.hours, f"{node} node hours", why)]


PRICE_RULES: Mapping[str, Callable[[Pricer, Item], list[Line]]] = {
    **RULES,
    "aws:ecs/service:Service": ecs_service,
    "aws:ecs/cluster:Cluster": ecs_cluster,
    "aws:rds/instance:Instance": rds_instance,
    "aws:elasticache/replicationGroup:ReplicationGroup": replication_group,
}
