"""docs/cost.md's "Topologies side by side": each environment on one host and on ECS, and where moving pays.

The `ecs` figures are the estimates of the shipped stack files Pulumi.<environment>-ecs.yaml
(the environment's settings with `topology: ecs`); the growth figures re-estimate the same
recorded resources with one thing changed (a larger host, more tasks, more data), so every
number here comes from the estimator and the price book.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from ops.cost import estimate as cost
from policies.rules.pricing.estimate import estimate_resources
from policies.rules.pricing.model import Line

if TYPE_CHECKING:
    from components.config import StackConfig
    from ops.sim import engine

ByService = Callable[[Iterable[Line]], list[tuple[str, float]]]

LARGEST_HOST = "m7i.xlarge"  # the largest x86 host components/config_sections.py INSTANCE_TYPES allows
MORE_DATA_GB = 100
DATA_TYPES = {"aws:ebs/volume:Volume": "size", "aws:rds/instance:Instance": "allocatedStorage"}
SERVICE_TYPE = "aws:ecs/service:Service"


def _usd(value: float) -> str:
    return f"${value:,.2f}"


def _running(config: StackConfig) -> str:
    hours = config.schedule
    when = f"{hours.days} {hours.start}-{hours.stop}" if hours else "`always`"
    return f"edge `{config.edge}`, schedule {when}"


def _host_free_share(environment: str, host: cost.Estimate, config: StackConfig, ecs_config: StackConfig) -> str:
    """What of the move is the edge and hours ecs needs: the same host on edge `alb`, running always."""
    if config.edge == "alb" and config.schedule is None:
        return ""
    overrides = {"edge": "alb", "schedule": "always", "backupTime": ecs_config.backup_time}
    alike = cost.estimate(*cost.run_with_config(environment, overrides)).total_usd
    return (
        f" Of that, {_usd(alike - host.total_usd)} is the ALB and the hours the ecs stack keeps: the same host on "
        f"edge `alb`, schedule `always` costs {_usd(alike)}."
    )


def _with_more_data(est: cost.Estimate, run: engine.Run, config: StackConfig) -> float:
    """The total with MORE_DATA_GB more on the database's storage (the volume or RDS), its backups following."""
    items = [
        dataclasses.replace(i, props={**i.props, DATA_TYPES[i.type]: i.props[DATA_TYPES[i.type]] + MORE_DATA_GB})
        if i.type in DATA_TYPES
        else i
        for i in cost.items_from_run(run, config.region)
    ]
    settings = {"snapshot_retention_days": config.snapshot_retention_days}
    bigger = estimate_resources(items, region=config.region, environment=config.environment, settings=settings)
    return bigger.total_usd - est.total_usd


def _with_tasks(run: engine.Run, config: StackConfig, tasks: int) -> float:
    """The total with every Fargate service running `tasks` tasks (auto scaling at that count)."""
    items = [
        dataclasses.replace(i, props={**i.props, "desiredCount": tasks}) if i.type == SERVICE_TYPE else i
        for i in cost.items_from_run(run, config.region)
    ]
    settings = {"snapshot_retention_days": config.snapshot_retention_days}
    return estimate_resources(items, region=config.region, environment=config.environment, settings=settings).total_usd


def _environment(environment: str, by_service: ByService) -> list[str]:
    host_run, host_config = cost.run_with_config(environment)
    ecs_run, ecs_config = cost.run_with_config(f"{environment}-ecs")
    host, ecs = cost.estimate(host_run, host_config), cost.estimate(ecs_run, ecs_config)
    largest = cost.estimate(*cost.run_with_config(environment, {"instanceType": LARGEST_HOST}))
    bounds = ecs_config.scale_out
    services = len([i for i in ecs_run.resources if i.type == SERVICE_TYPE])
    at_max = _with_tasks(ecs_run, ecs_config, bounds.max_tasks)
    per_task = (_with_tasks(ecs_run, ecs_config, bounds.min_tasks + 1) - ecs.total_usd) / max(services, 1)
    host_rows, ecs_rows = dict(by_service(host.lines)), dict(by_service(ecs.lines))
    names = sorted(set(host_rows) | set(ecs_rows), key=lambda n: (-max(host_rows.get(n, 0), ecs_rows.get(n, 0)), n))
    out = [
        f"### {environment}",
        "",
        f"single-host: `{host_config.instance_type}` host, {_running(host_config)}. "
        f"ecs (`Pulumi.{environment}-ecs.yaml`): {services} Fargate "
        f"services at {bounds.min_tasks} to {bounds.max_tasks} tasks, `{bounds.database_instance_class}`"
        f"{' Multi-AZ' if ecs_config.is_prod else ''}, `{bounds.cache_node_type}`"
        f"{' with a replica' if ecs_config.is_prod else ''}, {_running(ecs_config)} (ecs has no host to end TLS "
        "on or to stop).",
        "",
        "| service | single-host | ecs |",
        "|---|---:|---:|",
        *(f"| {n} | {_usd(host_rows.get(n, 0.0))} | {_usd(ecs_rows.get(n, 0.0))} |" for n in names),
        f"| **total** | **{_usd(host.total_usd)}** | **{_usd(ecs.total_usd)}** |",
        "",
        f"- Moving costs {_usd(ecs.total_usd - host.total_usd)} a month more ({ecs.total_usd / host.total_usd:.1f}x)."
        + _host_free_share(environment, host, host_config, ecs_config),
        f"- The largest host the single-host topology allows (`{LARGEST_HOST}`, 4 vCPUs, 16 GiB) brings it to "
        f"{_usd(largest.total_usd)}: up to that size, a larger host is the cheaper way to grow.",
        f"- On ECS each task a service adds costs {_usd(per_task)} a month; every service at the "
        f"{bounds.max_tasks} tasks `ecsScaling` allows: {_usd(at_max)}.",
        f"- {MORE_DATA_GB} GB more data: single-host {_usd(_with_more_data(host, host_run, host_config))}, "
        f"ecs {_usd(_with_more_data(ecs, ecs_run, ecs_config))} a month (storage and its backups).",
        "",
    ]
    return out


def section(environments: Iterable[str], by_service: ByService) -> list[str]:
    """The side-by-side of every environment that has an `-ecs` stack file; `by_service` groups lines."""
    from ops.sim import engine

    chosen = [e for e in environments if f"{e}-ecs" in engine.available_stacks()]
    if not chosen:
        return []
    out = [
        "## Topologies side by side",
        "",
        "The same program with `topology: single-host` (the shipped stacks) and `topology: ecs`",
        "(`docs/runbooks/scale-out.md`), at on-demand prices. Each Fargate task is the smallest size that holds",
        "its service's CPU and memory limits, priced at the auto scaling minimum all month.",
        "",
    ]
    for environment in chosen:
        out += _environment(environment, by_service)
    out += [
        "### When moving pays",
        "",
        "Not on cost: at every size above, the ecs topology costs more than the host. Move when one of these holds:",
        "",
        "- **Availability**: the business needs to survive the loss of an availability zone within minutes",
        "  (a 99.9% target or better). The host lives in one zone; EC2 auto-recovery restarts it on healthy",
        "  hardware of the same zone, and a lost zone means a restore from the backups in another",
        "  (`docs/runbooks/disaster-recovery.md`). On ECS, prod runs a task of each service in each zone",
        "  and RDS fails over to its standby in one to two minutes.",
        f"- **Traffic**: sustained load keeps the host's CPU above 80% (its `HostCpuHigh` alert) on `{LARGEST_HOST}`,",
        "  the largest host allowed. Beyond it only ECS grows, a task at a time, with the database on its own",
        "  instance instead of sharing the host's CPU and memory with the application.",
        "- **Data size** is not a reason by itself: each GB costs as much or more on ECS (the lines above;",
        "  Multi-AZ keeps two copies). But the larger the database, the longer the move's copy takes: plan",
        "  the move before the copy outgrows a night's maintenance window (`docs/runbooks/scale-out.md`).",
        "",
    ]
    return out
