"""The `topology` setting and the scale-out sizes: defaults, bounds and the errors bad values get."""

from __future__ import annotations

from typing import Any

import pytest

from components.config_sections import ScaleOut
from tests.unit.test_config_input import P, problems, read


def test_both_shipped_stacks_default_to_the_single_host_topology() -> None:
    for stack in ("staging", "prod"):
        assert read(stack).topology == "single-host"


def test_the_scale_out_sizes_default_per_environment() -> None:
    assert read("prod", topology="ecs").scale_out == ScaleOut(2, 6, "db.t4g.medium", "cache.t4g.small")
    staging = read("staging", topology="ecs", edge="alb", schedule="always")  # as in Pulumi.staging-ecs.yaml
    assert staging.scale_out == ScaleOut(1, 2, "db.t4g.micro", "cache.t4g.micro")
    assert (staging.edge, staging.schedule) == ("alb", None)


def test_ecs_refuses_edge_host_naming_the_fix() -> None:
    """No host, no Traefik to end TLS on: edge host with ecs is an error saying what to set instead."""
    error = problems("prod", topology="ecs", edge="host", route53ZoneId="Z0123456789ABCDEFGHIJ")
    assert error.keys == [f"{P}:edge"]
    assert "alb with topology ecs" in str(error) and "set edge to alb, or topology to single-host" in str(error)
    assert read("prod", edge="host", route53ZoneId="Z0123456789ABCDEFGHIJ").edge == "host"  # fine on a host


def test_ecs_refuses_a_schedule_naming_the_fix() -> None:
    """No host to stop off hours: a schedule with ecs is an error; `always` is what ecs runs."""
    error = problems("staging", topology="ecs", edge="alb")
    assert error.keys == [f"{P}:schedule"]
    assert "always with topology ecs" in str(error) and "set it to always" in str(error)


def test_staging_moved_to_ecs_as_it_stands_gets_both_errors_at_once() -> None:
    """Staging runs edge host and office hours: both are named together, before any resource exists."""
    assert problems("staging", topology="ecs").keys == [f"{P}:edge", f"{P}:schedule"]


def test_ecs_with_its_own_sizes() -> None:
    config = read(
        "prod",
        topology="ecs",
        ecsScaling={"minTasks": 3, "maxTasks": 10},
        databaseInstanceClass="db.m7g.large",
        cacheNodeType="cache.t4g.medium",
    )
    assert config.topology == "ecs"
    assert config.scale_out == ScaleOut(3, 10, "db.m7g.large", "cache.t4g.medium")


BAD: list[tuple[str, dict[str, Any], str, str]] = [
    ("staging", {"topology": "kubernetes"}, "topology", "single-host (every container on one EC2 host) or ecs"),
    ("staging", {"topology": "ECS"}, "topology", "or ecs (Fargate, RDS, ElastiCache)"),
    ("prod", {"ecsScaling": {"minTasks": 1, "maxTasks": 4}}, "ecsScaling.minTasks", "from 2 to 20 (prod keeps a task"),
    ("staging", {"ecsScaling": {"minTasks": 0}}, "ecsScaling.minTasks", "a whole number from 1 to 20"),
    ("staging", {"ecsScaling": {"minTasks": 3, "maxTasks": 2}}, "ecsScaling.maxTasks", "from minTasks (3) to 20"),
    ("staging", {"ecsScaling": {"minTasks": 1, "maxTasks": 50}}, "ecsScaling.maxTasks", "from minTasks (1) to 20"),
    ("staging", {"ecsScaling": {"min": 1}}, "ecsScaling", "a map with minTasks and maxTasks"),
    ("staging", {"ecsScaling": [1, 2]}, "ecsScaling", "a map with minTasks and maxTasks"),
    ("staging", {"databaseInstanceClass": "db.r5.24xlarge"}, "databaseInstanceClass", "db.t4g.micro"),
    ("staging", {"cacheNodeType": "cache.r6g.large"}, "cacheNodeType", "cache.t4g.micro"),
]


@pytest.mark.parametrize(("stack", "overrides", "key", "allowed"), BAD, ids=[f"{c[2]}-{c[0]}" for c in BAD])
def test_a_bad_scale_out_setting_is_named_with_what_is_allowed(
    stack: str, overrides: dict[str, Any], key: str, allowed: str
) -> None:
    error = problems(stack, **overrides)
    assert error.keys == [f"{P}:{key}"]
    assert allowed in str(error)


def test_ecs_refuses_a_recovery_window_rds_cannot_keep() -> None:
    error = problems("prod", topology="ecs", recoveryWindowDays=60, noncurrentVersionExpirationDays=67)
    assert error.keys == [f"{P}:recoveryWindowDays"]
    assert "at most 35 days with topology ecs" in str(error)
    assert read("prod", recoveryWindowDays=60, noncurrentVersionExpirationDays=67).recovery_window_days == 60
