"""The topology layer's pure part: which specs run on Fargate, at what size, and how a spec becomes a task."""

from __future__ import annotations

from dataclasses import replace

import pytest

from components.config import StackConfig
from components.workload import ecs_services as ecs
from components.workload.catalogue import Endpoints
from components.workload.services import Routing, SpecError
from ops.sim.engine import stack_config
from tests.unit.test_services import good, specs_of


@pytest.fixture(scope="module")
def staging() -> StackConfig:
    return stack_config("staging")


SIZES = [
    (0.25, 512, (256, 512)),
    (0.5, 1500, (512, 2048)),
    (1.0, 448, (1024, 2048)),
    (1.0, 2049, (1024, 3072)),
    (3.0, 9000, (4096, 9216)),
]


@pytest.mark.parametrize(("cpus", "memory", "size"), SIZES)
def test_a_spec_gets_the_smallest_fargate_size_that_holds_its_limits(
    cpus: float, memory: int, size: tuple[int, int]
) -> None:
    assert ecs.fargate_size(cpus, memory) == size


def test_a_spec_larger_than_any_fargate_task_is_refused() -> None:
    with pytest.raises(SpecError, match="larger than any Fargate task"):
        ecs.fargate_size(8.0, 1024)


def test_the_stateless_services_are_the_routed_ones_with_nothing_on_disk(staging: StackConfig) -> None:
    specs = list(specs_of(staging).values())
    assert [s.name for s in ecs.stateless(specs)] == ["frontend", "directus"]
    assert ecs.ecs_service_names(staging) == ["frontend", "directus"]


def test_a_spec_becomes_a_task_with_its_secret_files_as_parameters(staging: StackConfig) -> None:
    directus = specs_of(staging)["directus"]
    arns = {name: f"arn:aws:ssm:us-east-1:123456789012:parameter/x/{name}" for name in directus.secrets}
    task = ecs.task_description(directus, arns)
    assert task.secrets == {
        "SECRET": arns["directus_secret"],
        "DB_PASSWORD": arns["directus_db_password"],  # its own role's, not the superuser's
        "ADMIN_PASSWORD": arns["directus_admin_password"],
        "METRICS_TOKENS": arns["metrics_token"],
    }
    assert dict(task.environment) == dict(sorted(directus.env.items()))
    assert not [k for k in task.environment if k.endswith("_FILE")]
    assert (task.port, task.route, task.cpu, task.memory_mb) == (8055, "cms", 1024, 2048)
    assert directus.health is not None
    assert (task.health_command, task.health_start_period) == (directus.health.test, 60)
    assert task.grace_seconds == directus.health.seconds_to_healthy()


def test_directus_reaches_rds_over_tls_and_elasticache_by_the_endpoints(staging: StackConfig) -> None:
    endpoints = Endpoints("db.example.rds.amazonaws.com", "rediss://master.example:6379", database_tls=True)
    env = specs_of(staging, endpoints=endpoints)["directus"].env
    assert (env["DB_HOST"], env["REDIS"]) == ("db.example.rds.amazonaws.com", "rediss://master.example:6379")
    assert env["DB_SSL__REJECT_UNAUTHORIZED"] == "false"
    host_env = specs_of(staging)["directus"].env
    assert (host_env["DB_HOST"], host_env["REDIS"]) == ("postgres", "redis://redis:6379")
    assert "DB_SSL__REJECT_UNAUTHORIZED" not in host_env


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"config_files": {"/etc/app.conf": "x"}}, "config files cannot be delivered to a Fargate task"),
        ({"stop_signal": "SIGINT"}, "ECS stops a task with SIGTERM only"),
        ({"secret_env": {"TOKEN": "metrics_token"}}, "secret variable TOKEN must end in _FILE"),
        ({"health": None}, "missing health check"),
        ({"routing": ()}, "exactly one route, not 0"),
    ],
)
def test_what_keeps_a_spec_off_fargate_is_named(change: dict[str, object], problem: str) -> None:
    spec = replace(good(routing=(Routing("app", 3000),)), **change)  # type: ignore[arg-type]
    assert any(problem in p for p in ecs.ecs_problems(spec)), ecs.ecs_problems(spec)


def test_the_rds_parameters_are_the_hosts_settings_rds_takes(staging: StackConfig) -> None:
    assert ecs.rds_parameters(staging) == {
        "max_connections": "100",
        "log_min_duration_statement": "1000",
        "log_timezone": "America/Mexico_City",
        "timezone": "UTC",
    }
