"""TaskDescription: one Fargate task in AWS terms, and what is derived from it without resources:
its container definition (the task definition's JSON), the execution role's statements, and
the task role's statements for a bucket. components/aws/ecs.py makes the resources.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi


@dataclass(frozen=True)
class TaskDescription:
    """One container of one Fargate task, in AWS terms."""

    name: str
    """The service's name: its container's, its task family's suffix and its log group's."""
    image: pulumi.Input[str]
    """The image reference (repository and pinned tag or digest)."""
    cpu: int
    """Task CPU units (1024 = 1 vCPU), a size Fargate offers with `memory_mb`."""
    memory_mb: int
    """Task memory in MiB, a size Fargate offers with `cpu`."""
    port: int
    """The container port the load balancer's target group forwards to."""
    route: str
    """The route (target group) key of the load balancer, e.g. `app`."""
    environment: Mapping[str, pulumi.Input[str]]
    """Plain variables (never a secret: the task definition is readable by anyone who may describe it)."""
    secrets: Mapping[str, pulumi.Input[str]]
    """Variable name -> ARN of the SSM parameter ECS reads it from when the task starts."""
    health_command: Sequence[str]
    """The container's health check command (exec form, without "CMD")."""
    health_interval: int
    """Seconds between health checks (5-300)."""
    health_timeout: int
    """Seconds one check may take (2-60)."""
    health_retries: int
    """Failed checks in a row that make the container unhealthy."""
    health_start_period: int
    """Seconds after start during which failed checks do not count."""
    stop_timeout: int
    """Seconds between SIGTERM and SIGKILL when a task stops (at most 120 on Fargate)."""
    grace_seconds: int
    """How long the service ignores failing load balancer health checks of a new task."""
    command: Sequence[str] = ()
    """The container's command; empty: the image's own."""
    permissions: Sequence[Mapping[str, Any]] = ()
    """IAM statements of the task role (the application's own AWS access); none: no task role."""


def container_definition(task: TaskDescription, region: str, log_group: pulumi.Input[str]) -> dict[str, Any]:
    """The task's one container, as ECS's container definition JSON (Outputs resolved by json_dumps)."""
    return {
        "name": task.name,
        "image": task.image,
        "essential": True,
        "command": list(task.command) or None,
        "portMappings": [{"containerPort": task.port, "protocol": "tcp"}],
        "environment": [{"name": k, "value": v} for k, v in sorted(task.environment.items())],
        "secrets": [{"name": k, "valueFrom": v} for k, v in sorted(task.secrets.items())],
        "healthCheck": {
            "command": ["CMD", *task.health_command],
            "interval": task.health_interval,
            "timeout": task.health_timeout,
            "retries": task.health_retries,
            "startPeriod": task.health_start_period,
        },
        "stopTimeout": task.stop_timeout,
        "readonlyRootFilesystem": False,
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": log_group,
                "awslogs-region": region,
                "awslogs-stream-prefix": task.name,
                "mode": "non-blocking",
                "max-buffer-size": "4m",
            },
        },
    }


def bucket_object_access(bucket_arn: pulumi.Input[str]) -> list[dict[str, Any]]:
    """A task role's statements to list one bucket and read, write and delete its objects (Directus' uploads)."""
    objects = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
    return [
        {"Sid": "Objects", "Effect": "Allow", "Action": objects, "Resource": pulumi.Output.concat(bucket_arn, "/*")},
        {"Sid": "List", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": bucket_arn},
    ]


def execution_statements(
    region: str, account: str, repository_prefix: str, log_group: str, parameter_arns: Sequence[str]
) -> list[dict[str, Any]]:
    """What ECS needs to start one service's tasks, and nothing of any other service."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": "EcrPull",
            "Effect": "Allow",
            "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
            "Resource": f"arn:aws:ecr:{region}:{account}:repository/{repository_prefix}*",
        },
        # GetAuthorizationToken is account-wide: AWS accepts only "*" as its resource.
        {"Sid": "EcrLogin", "Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": "*"},
        {
            "Sid": "Logs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"arn:aws:logs:{region}:{account}:log-group:{log_group}:log-stream:*",
        },
    ]
    if parameter_arns:
        # SecureString parameters under the AWS managed key: no kms:Decrypt grant is needed.
        statements.append(
            {"Sid": "Secrets", "Effect": "Allow", "Action": ["ssm:GetParameters"], "Resource": sorted(parameter_arns)}
        )
    return statements
