"""ECS rules (the `ecs` topology): Container Insights on every cluster, no secret in a task
definition's plain environment, task roles apart from the execution role, holding no AWS
managed policy, and (advisory) no public address on a task."""

from __future__ import annotations

from typing import Any

from pulumi_policy import PolicyResource, ResourceValidationArgs, Severity, StackValidationArgs

from .base import ADVISORY, Report, Rule, depends_on, get, is_unknown, items, json_doc, label, of_type
from .containers import secret_env_problems
from .iam import ATTACHMENTS

CLUSTER = ("aws:ecs/cluster:Cluster",)
SERVICE = ("aws:ecs/service:Service",)
TASK_DEFINITION = ("aws:ecs/taskDefinition:TaskDefinition",)
ROLE = "aws:iam/role:Role"


def _container_insights(args: ResourceValidationArgs, report: Report) -> None:
    settings = items(args.props, "settings")
    if any(is_unknown(s) for s in settings):
        return
    values = [get(s, "value") for s in settings if get(s, "name") == "containerInsights"]
    if not any(v in ("enabled", "enhanced") for v in values):
        report(f"{label(args)} has Container Insights off: no per-service CPU, memory or task metrics")


def _environment(definition: Any) -> list[tuple[str, Any]]:
    pairs: list[tuple[str, Any]] = []
    for container in definition if isinstance(definition, list) else []:
        for entry in (container.get("environment") or []) if isinstance(container, dict) else []:
            pairs.append((str(entry.get("name", "")), entry.get("value")))
    return pairs


def _no_secret_env(args: ResourceValidationArgs, report: Report) -> None:
    definitions = json_doc(get(args.props, "containerDefinitions"))
    if is_unknown(definitions):
        return
    problems = secret_env_problems(_environment(definitions))
    if problems:
        report(f"{label(args)}: {'; '.join(problems)}; give it to the container in `secrets` (SSM or Secrets Manager)")


def _no_public_ip(args: ResourceValidationArgs, report: Report) -> None:
    if get(args.props, "networkConfiguration", "assignPublicIp") is True:
        report(f"{label(args)} gives each task a public IPv4 address (assignPublicIp)")


def _roles_of(args: StackValidationArgs, resource: PolicyResource, prop: str) -> set[str]:
    """The URNs of the roles `resource.prop` was computed from."""
    roles = {r.urn for r in of_type(args, ROLE)}
    return {d.urn for d in resource.property_dependencies.get(prop, []) if d.urn in roles}


def _task_roles(args: StackValidationArgs, report: Report) -> None:
    task_roles: set[str] = set()
    for definition in of_type(args, *TASK_DEFINITION):
        task_arn, execution_arn = get(definition.props, "taskRoleArn"), get(definition.props, "executionRoleArn")
        same_value = isinstance(task_arn, str) and task_arn == execution_arn
        task_urns = _roles_of(args, definition, "taskRoleArn")
        if same_value or task_urns & _roles_of(args, definition, "executionRoleArn"):
            report(
                f"{label(definition)}: the application's task role is the execution role, so it may read every "
                "secret and pull every image the task's start needs",
                definition.urn,
            )
        task_roles |= task_urns
    for attachment in of_type(args, *ATTACHMENTS):
        policy = get(attachment.props, "policyArn")
        aws_managed = isinstance(policy, str) and policy.startswith("arn:aws:iam::aws:policy/")
        if aws_managed and any(depends_on(attachment, "role", r) for r in args.resources if r.urn in task_roles):
            report(
                f"{label(attachment)} attaches the AWS managed policy {policy.rsplit('/', 1)[-1]} to a task role: "
                "grant the task the actions on its own resources in an inline policy",
                attachment.urn,
            )


RULES = [
    Rule(
        name="ecs-container-insights",
        description="Every ECS cluster has Container Insights on.",
        why="The services' CPU, memory and running-task alarms read its metrics; without it a stopped service is not seen.",
        severity=Severity.MEDIUM,
        check=_container_insights,
        resource_types=CLUSTER,
        references=("AWS-FSBP ECS.12", "checkov CKV_AWS_65"),
    ),
    Rule(
        name="ecs-no-secret-in-task-environment",
        description="No ECS task definition has a secret-named variable or a credential-looking value in `environment`.",
        why="A task definition is readable by anyone who may describe it and is kept in every revision; secrets go in `secrets`.",
        severity=Severity.CRITICAL,
        check=_no_secret_env,
        resource_types=TASK_DEFINITION,
        references=("AWS-FSBP ECS.8",),
    ),
    Rule(
        name="ecs-task-role-least-privilege",
        description="No ECS task runs with its execution role as its task role, and no task role holds an AWS managed policy.",
        why="The execution role may read the task's secrets and pull images; the application gets only its own grants.",
        severity=Severity.HIGH,
        check=_task_roles,
        kind="stack",
        references=("checkov CKV_AWS_249",),
    ),
    Rule(
        name="ecs-no-public-ip",
        description="No ECS service gives its tasks public IPv4 addresses.",
        why="A public address makes a task reachable from the internet if its security group is ever widened.",
        severity=Severity.MEDIUM,
        check=_no_public_ip,
        resource_types=SERVICE,
        level=ADVISORY,
        advisory_reason=(
            "as for the host (ARCHITECTURE.md): tasks reach ECR, SSM and CloudWatch through the internet gateway "
            "instead of a NAT gateway (about $33/month); their security group admits only the load balancer."
        ),
        references=("AWS-FSBP ECS.2",),
    ),
]
