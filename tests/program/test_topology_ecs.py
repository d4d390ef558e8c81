"""The `ecs` topology on the simulated engine, from the shipped stack files Pulumi.<env>-ecs.yaml: the
catalogue's stateless services on Fargate behind the same ALB, PostgreSQL on RDS, Redis on ElastiCache,
the same alarms to the same topic; and no host, no SSH path, no Docker in the plan."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.workload import catalogue as catalogue_module
from components.workload.services import ServiceSpec
from ops.sim import engine, policy
from tests.conftest import shipped, simulate

ECS_STACKS = ("staging-ecs", "prod-ecs")
ROOT = Path(__file__).resolve().parents[2]
SERVICE = "aws:ecs/service:Service"
TASK = "aws:ecs/taskDefinition:TaskDefinition"
RDS = "aws:rds/instance:Instance"
REDIS = "aws:elasticache/replicationGroup:ReplicationGroup"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
MOVED = ("quintas:registry:ImageRepositories", "quintas:secrets:ServiceSecrets")
RANDOM = "random:index/randomPassword:RandomPassword"
SCALE_OUT_KEYS = {"topology", "ecsScaling", "databaseInstanceClass", "cacheNodeType", "monthlyBudgetUsd"}


@pytest.fixture(scope="module", params=ECS_STACKS)
def ecs_run(request: pytest.FixtureRequest) -> engine.Run:
    return shipped(request.param)


def container_of(run: engine.Run, service: str) -> dict[str, Any]:
    (container,) = json.loads(run.one(TASK, service).inputs["containerDefinitions"])
    return container


def test_the_stateless_services_run_on_fargate_behind_the_alb(ecs_run: engine.Run) -> None:
    services = {r.name: r.inputs for r in ecs_run.of_type(SERVICE)}
    assert sorted(services) == ["directus", "frontend"]
    groups = {r.name: r for r in ecs_run.of_type("aws:lb/targetGroup:TargetGroup")}
    assert {g.inputs["targetType"] for g in groups.values()} == {"ip"}
    for name, route, port in (("frontend", "app", 3000), ("directus", "cms", 8055)):
        service = services[name]
        assert service["launchType"] == "FARGATE"
        assert len(service["networkConfiguration"]["subnets"]) == 2  # the network's two zones
        (balancer,) = service["loadBalancers"]
        assert balancer["targetGroupArn"] == groups[route].outputs["arn"]
        assert (balancer["containerName"], balancer["containerPort"]) == (name, port)
        assert service["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
        assert (service["deploymentMinimumHealthyPercent"], service["deploymentMaximumPercent"]) == (100, 200)


def test_services_start_after_the_listener_rules_and_their_log_groups(ecs_run: engine.Run) -> None:
    rules = {r.urn for r in ecs_run.of_type("aws:lb/listenerRule:ListenerRule")}
    for service in ecs_run.of_type(SERVICE):
        group = next(g.urn for g in ecs_run.of_type("aws:cloudwatch/logGroup:LogGroup") if g.name == service.name)
        assert rules | {group} <= set(service.depends_on), service.name
    log = ecs_run.one("aws:cloudwatch/logGroup:LogGroup", "postgres-log")
    assert log.urn in ecs_run.one(RDS, "postgres").depends_on


def test_no_host_no_ssh_path_no_docker_in_the_plan(ecs_run: engine.Run) -> None:
    kinds = {r.type for r in ecs_run.resources}
    assert not {t for t in kinds if t.startswith(("docker:", "command:", "pulumi:providers:docker"))}
    host_types = {"aws:ec2/instance:Instance", "aws:ebs/volume:Volume", "aws:ec2/eip:Eip", "aws:ec2/keyPair:KeyPair"}
    assert not kinds & (host_types | {"aws:lb/targetGroupAttachment:TargetGroupAttachment"})
    assert "hostInstanceId" not in ecs_run.outputs and ecs_run.outputs["databaseAddress"].endswith(".rds.amazonaws.com")


def test_the_database_is_rds_postgresql_16_private_encrypted_with_the_recovery_window(ecs_run: engine.Run) -> None:
    db = ecs_run.one(RDS, "postgres")
    prod = ecs_run.stack == "prod-ecs"
    i = db.inputs
    assert (i["engine"], i["engineVersion"], i["storageEncrypted"], i["publiclyAccessible"]) == (
        "postgres",
        "16",
        True,
        False,
    )
    assert i["backupRetentionPeriod"] == (30 if prod else 7)  # the stacks' recoveryWindowDays
    assert (i["multiAz"], i["deletionProtection"], i["skipFinalSnapshot"]) == (prod, prod, not prod)
    assert (db.protect, db.retain_on_delete) == (prod, prod)
    assert i.get("finalSnapshotIdentifier") == ("quintas-crm-prod-ecs-postgres-final" if prod else None)
    assert i["backupWindow"] == "08:00-08:30"  # 02:00 in America/Mexico_City
    assert isinstance(i["password"], engine.Secret)


def test_the_parameter_group_carries_the_hosts_settings(ecs_run: engine.Run) -> None:
    group = ecs_run.one("aws:rds/parameterGroup:ParameterGroup", "postgres")
    values = {p["name"]: p["value"] for p in group.inputs["parameters"]}
    assert group.inputs["family"] == "postgres16"
    assert values == {
        "log_min_duration_statement": "1000",
        "log_timezone": "America/Mexico_City",
        "max_connections": "100",
        "rds.force_ssl": "1",
        "timezone": "UTC",
    }


def test_redis_is_encrypted_and_has_a_replica_in_prod(ecs_run: engine.Run) -> None:
    i = ecs_run.one(REDIS, "redis").inputs
    prod = ecs_run.stack == "prod-ecs"
    assert (i["atRestEncryptionEnabled"], i["transitEncryptionEnabled"]) == (True, True)
    assert (i["numCacheClusters"], i["automaticFailoverEnabled"], i["multiAzEnabled"]) == (
        (2, True, True) if prod else (1, False, False)
    )
    directus = {e["name"]: e["value"] for e in container_of(ecs_run, "directus")["environment"]}
    primary = ecs_run.one(REDIS, "redis").outputs["primaryEndpointAddress"]
    assert directus["REDIS"] == f"rediss://{primary}:6379"
    assert directus["DB_HOST"] == ecs_run.one(RDS, "postgres").outputs["address"]


def test_auto_scaling_between_the_settings_bounds_on_cpu_and_requests(ecs_run: engine.Run) -> None:
    bounds = {"staging-ecs": (1, 2), "prod-ecs": (2, 6)}[ecs_run.stack]
    for target in ecs_run.of_type("aws:appautoscaling/target:Target"):
        assert (target.inputs["minCapacity"], target.inputs["maxCapacity"]) == bounds
    for service in ("frontend", "directus"):
        assert ecs_run.one(SERVICE, service).inputs["desiredCount"] == bounds[0]
        assert "desiredCount" in ecs_run.one(SERVICE, service).ignore_changes
    metrics = {
        p.name: p.inputs["targetTrackingScalingPolicyConfiguration"]["predefinedMetricSpecification"]
        for p in ecs_run.of_type("aws:appautoscaling/policy:Policy")
    }
    assert metrics["frontend-cpu"]["predefinedMetricType"] == "ECSServiceAverageCPUUtilization"
    requests = metrics["directus-requests"]
    assert requests["predefinedMetricType"] == "ALBRequestCountPerTarget"
    assert requests["resourceLabel"].startswith("app/quintas-crm-") and "/targetgroup/" in requests["resourceLabel"]


def test_container_insights_and_the_same_thresholds_to_the_same_topic(ecs_run: engine.Run) -> None:
    (cluster,) = ecs_run.of_type("aws:ecs/cluster:Cluster")
    assert cluster.inputs["settings"] == [{"name": "containerInsights", "value": "enabled"}]
    alarms = {a.name: a.inputs for a in ecs_run.of_type(ALARM)}
    topic = ecs_run.outputs["alertTopicArn"]
    storage_gb = 100 if ecs_run.stack == "prod-ecs" else 30
    expected = {f"{s}-{m}": 80.0 for s in ("frontend", "directus", "postgres") for m in ("cpu", "memory")}
    expected.pop("postgres-memory")
    expected |= {"postgres-connections": 90.0, "postgres-storage": storage_gb * 1024**3 * 0.1}
    for name, threshold in expected.items():
        assert alarms[name]["threshold"] == threshold, name
        assert (alarms[name]["period"], alarms[name]["evaluationPeriods"]) == (60, 5), name
        assert alarms[name]["alarmActions"] == [topic] and alarms[name]["okActions"] == [topic], name
    assert {"app-health-check", "app-unhealthy", "cms-unhealthy", "frontend-tasks", "directus-tasks"} <= set(alarms)
    assert not {a for a in alarms if a.startswith("host-")}


def test_secrets_reach_tasks_from_ssm_never_in_the_task_definition(ecs_run: engine.Run) -> None:
    parameters = {r.inputs["name"]: r for r in ecs_run.of_type("aws:ssm/parameter:Parameter")}
    directus = container_of(ecs_run, "directus")
    assert {s["name"] for s in directus["secrets"]} == {"SECRET", "DB_PASSWORD", "ADMIN_PASSWORD", "METRICS_TOKENS"}
    arns = {p.outputs["arn"]: p for p in parameters.values()}
    assert all(s["valueFrom"] in arns for s in directus["secrets"])
    definitions = " ".join(r.inputs["containerDefinitions"] for r in ecs_run.of_type(TASK))
    for parameter in parameters.values():
        assert parameter.inputs["type"] == "SecureString"
        assert engine.reveal(parameter.inputs["value"]) not in definitions
    assert not any(e["name"].endswith("_FILE") for e in directus["environment"])


def test_task_roles_grant_only_what_each_service_needs(ecs_run: engine.Run) -> None:
    roles = {r.name: json.loads(r.inputs["policy"]) for r in ecs_run.of_type("aws:iam/rolePolicy:RolePolicy")}
    assert "frontend-task" not in roles and ecs_run.one(TASK, "frontend").inputs.get("taskRoleArn") is None
    uploads = ecs_run.one("aws:s3/bucket:Bucket", "uploads").outputs["arn"]
    assert {str(s["Resource"]).removesuffix("/*") for s in roles["directus-task"]["Statement"]} == {uploads}
    execution = {s["Sid"]: s for s in roles["frontend-execution"]["Statement"]}
    group = f":log-group:/quintas-crm/{ecs_run.stack}/frontend:log-stream:*"
    assert "Secrets" not in execution and execution["Logs"]["Resource"].endswith(group)
    secrets = {s["Sid"]: s for s in roles["directus-execution"]["Statement"]}["Secrets"]
    assert secrets["Action"] == ["ssm:GetParameters"] and len(secrets["Resource"]) == 4


@pytest.mark.parametrize("preview", [False, True], ids=["up", "first-preview"])
def test_the_ecs_stacks_plan_with_no_mandatory_violation(ecs_run: engine.Run, preview: bool) -> None:
    found = policy.evaluate(ecs_run, policy.load_config(ecs_run.stack), preview=preview)
    assert policy.mandatory(found) == [], [f"{f.policy} {f.resource}: {f.message}" for f in policy.mandatory(found)]


@pytest.mark.parametrize("environment", ["staging", "prod"])
def test_the_ecs_stack_files_are_the_shipped_ones_with_the_topology(environment: str) -> None:
    """Every setting mirrors the shipped stack's but the scale-out ones and those only a host gives meaning
    to: the ecs file keeps edge `alb` and schedule `always`; where the shipped stack runs office hours (its
    backup inside them), the always-running ecs stack backs up at the night-time hour prod uses."""

    def settings(stack: str) -> dict[str, Any]:
        doc = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
        return {k.split(":", 1)[-1]: v for k, v in doc.items()}

    shipped_settings, ecs = settings(environment), settings(f"{environment}-ecs")
    assert ecs["topology"] == "ecs"
    assert ecs.get("edge", "alb") == "alb" and ecs.get("schedule", "always") == "always"
    host_only = {"edge", "schedule"}
    if "schedule" in shipped_settings:  # a backup time chosen to fall inside the office hours
        host_only.add("backupTime")
        assert ecs["backupTime"] == settings("prod")["backupTime"] != shipped_settings["backupTime"]

    def mirrored(values: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in values.items() if k not in SCALE_OUT_KEYS | host_only}

    assert mirrored(ecs) == mirrored(shipped_settings)


def test_a_change_to_a_service_spec_reaches_the_host_container_and_the_task_definition(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One ServiceSpec, two topologies: a new variable and a slower health check reach both."""
    before = container_of(shipped("staging-ecs"), "directus")  # the shipped catalogue, run before the change
    assert "LOG_LEVEL" not in {e["name"] for e in before["environment"]} and before["healthCheck"]["interval"] == 15
    original = catalogue_module.directus

    def changed(*args: Any) -> ServiceSpec:
        spec = original(*args)
        health = dataclasses.replace(spec.health, interval="30s") if spec.health else None
        return dataclasses.replace(spec, env={**spec.env, "LOG_LEVEL": "debug"}, health=health)

    monkeypatch.setattr(catalogue_module, "directus", changed)
    container = simulate("staging").one("docker:index/container:Container", "directus").inputs
    task = container_of(simulate("staging-ecs"), "directus")
    assert "LOG_LEVEL=debug" in container["envs"] and container["healthcheck"]["interval"] == "30s"
    assert {"name": "LOG_LEVEL", "value": "debug"} in task["environment"] and task["healthCheck"]["interval"] == 30


def test_changing_topology_moves_the_image_repositories_and_secrets_instead_of_replacing_them(
    ecs_run: engine.Run,
) -> None:
    """Each topology's repositories and generated secrets alias the other's: images and passwords survive."""
    environment = ecs_run.stack.removesuffix("-ecs")
    host_run = shipped(environment)

    def as_host_stack(urn: str) -> str:
        return urn.replace(f"urn:pulumi:{ecs_run.stack}::", f"urn:pulumi:{environment}::")

    held = set((ROOT / "tests" / "program" / "urns" / f"{environment}.txt").read_text().splitlines())
    host_urns = {r.urn for r in host_run.resources}
    moved = [r for r in ecs_run.resources if r.type in MOVED]
    assert sorted(r.name for r in moved) == ["images", "secrets"]
    for component in moved:
        (alias,) = component.aliases
        assert as_host_stack(alias) in held and as_host_stack(alias) in host_urns
        (back,) = host_run.one(component.type, component.name).aliases
        assert back == as_host_stack(component.urn)
    # The children follow their parent's alias: repositories and passwords keep their host URNs.
    children = [r for r in ecs_run.resources if r.type in ("aws:ecr/repository:Repository", RANDOM)]
    ecs_chain, host_chain = "quintas:ecs:EcsWorkload$", "quintas:containers:ContainerStack$"
    inherited = {as_host_stack(r.urn).replace(ecs_chain, host_chain) for r in children}
    assert len(children) == 11 and inherited <= held  # 3 repositories, 8 generated secrets (3 database roles)


def test_directus_logs_in_to_rds_with_the_password_rds_was_given(ecs_run: engine.Run) -> None:
    """RDS's master user is Directus's role: the task's DB_PASSWORD parameter holds the instance's password."""
    database = ecs_run.one(RDS, "postgres").inputs
    (definition,) = json.loads(ecs_run.one(TASK, "directus").inputs["containerDefinitions"])
    env = {e["name"]: e["value"] for e in definition["environment"]}
    source = next(s["valueFrom"] for s in definition["secrets"] if s["name"] == "DB_PASSWORD")
    parameter = next(
        r for r in ecs_run.resources if r.type == "aws:ssm/parameter:Parameter" and source.endswith(r.inputs["name"])
    )
    assert env["DB_USER"] == database["username"]
    assert parameter.inputs["value"].value == database["password"].value
