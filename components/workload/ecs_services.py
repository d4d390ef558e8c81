"""EcsWorkload: the catalogue's stateless services on ECS Fargate (the `ecs` topology), from the same
ServiceSpecs ContainerStack runs on the host.

Made in two steps, as ContainerStack: the constructor makes the image repositories and
generated secrets the catalogue refers to; `deploy` turns each stateless spec into a
TaskDescription (components/aws/ecs.py) and runs them as Fargate services. Stateless: a
spec with a route and nothing on disk (frontend, directus). PostgreSQL and Redis run on
RDS and ElastiCache instead (the catalogue reaches them through CatalogueInputs.endpoints);
Traefik's routing is the ALB's; the host's monitoring containers are replaced by
Container Insights and CloudWatch alarms; the backup job by RDS automated backups.

What changes between the two topologies, and nothing else:
- a secret file (`FOO_FILE` -> /run/secrets/<name>) becomes the variable `FOO`, read by
  ECS from an SSM SecureString parameter when the task starts (the task definition holds
  the parameter's ARN, never the value);
- the Docker health check becomes the container's ECS health check (same command and timings);
- CPU and memory become the smallest Fargate size that holds the spec's limits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.aws.ecs import FargateServices, FargateServicesArgs
from components.aws.ecs_tasks import TaskDescription
from components.config import StackConfig
from components.workload.catalogue import catalogue, postgres_server_settings, stand_in_inputs
from components.workload.db_roles import DIRECTUS
from components.workload.registry import HOST_WORKLOAD, ImageRepositories, ImageRepositoriesArgs, moved_from
from components.workload.secrets import ServiceSecrets, ServiceSecretsArgs
from components.workload.services import ServiceSpec, SpecError, duration_seconds

# Fargate's task sizes: CPU units -> the memory sizes (MiB) it may have.
FARGATE_SIZES: Mapping[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4097, 1024)),
    1024: tuple(range(2048, 8193, 1024)),
    2048: tuple(range(4096, 16385, 1024)),
    4096: tuple(range(8192, 30721, 1024)),
}
# The host's server settings a customer may set on RDS; the memory-sized ones keep RDS' defaults.
RDS_SETTINGS = ("max_connections", "log_min_duration_statement", "log_timezone", "timezone")
MAX_STOP_SECONDS = 120  # Fargate's longest stopTimeout
FILE_SUFFIX = "_FILE"  # a secret file variable: FOO_FILE on the host is FOO on ECS


def stateless(specs: Sequence[ServiceSpec]) -> list[ServiceSpec]:
    """The specs that run as Fargate services: routed, writing nothing to disk, not on the host's network."""
    return [s for s in specs if s.routing and not s.volumes and not s.host_network and not s.ports]


def ecs_service_names(config: StackConfig) -> list[str]:
    """The names of the stack's Fargate services, before their inputs exist (their log groups come first)."""
    return [spec.name for spec in stateless(catalogue(config, stand_in_inputs()))]


def fargate_size(cpus: float, memory_mb: int) -> tuple[int, int]:
    """The smallest Fargate (CPU units, MiB) with at least `cpus` vCPUs and `memory_mb` MiB."""
    for units, memories in FARGATE_SIZES.items():
        if units >= cpus * 1024:
            fits = [m for m in memories if m >= memory_mb]
            if fits:
                return units, fits[0]
    raise SpecError([f"{cpus:g} vCPUs with {memory_mb} MiB is larger than any Fargate task"])


def rds_parameters(config: StackConfig) -> dict[str, str]:
    """The host's PostgreSQL settings that RDS takes in a parameter group (archiving and WAL are RDS' own)."""
    settings = postgres_server_settings(config, memory_mb=0, extra={})
    return {key: settings[key] for key in RDS_SETTINGS}


def task_description(
    spec: ServiceSpec, parameter_arns: Mapping[str, pulumi.Input[str]], permissions: Sequence[Mapping[str, Any]] = ()
) -> TaskDescription:
    """One spec as a Fargate task; `parameter_arns`: secret name -> its SSM parameter's ARN."""
    problems = ecs_problems(spec)
    if problems:
        raise SpecError(problems)
    health = spec.health
    assert health is not None  # ecs_problems refuses a spec without one
    cpu, memory = fargate_size(spec.cpus, spec.memory_mb)
    route = spec.routing[0]
    return TaskDescription(
        name=spec.name,
        image=spec.image.ref,
        cpu=cpu,
        memory_mb=memory,
        port=route.port,
        route=route.entrypoint,
        command=spec.command,
        environment={key: _plain(spec.name, key, value) for key, value in sorted(spec.env.items())},
        secrets={var.removesuffix(FILE_SUFFIX): parameter_arns[name] for var, name in spec.secret_env.items()},
        health_command=health.test,
        health_interval=duration_seconds(health.interval),
        health_timeout=duration_seconds(health.timeout),
        health_retries=health.retries,
        health_start_period=duration_seconds(health.start_period),
        stop_timeout=min(spec.stop_grace_seconds, MAX_STOP_SECONDS),
        grace_seconds=health.seconds_to_healthy(),
        permissions=permissions,
    )


def ecs_problems(spec: ServiceSpec) -> list[str]:
    """What keeps a spec from running as a Fargate task, each with the fix."""
    n, p = spec.name, []
    if spec.health is None:
        p.append(f"{n}: missing health check: ECS replaces a task only once its successor is healthy")
    elif not 5 <= duration_seconds(spec.health.interval) <= 300 or not 2 <= duration_seconds(spec.health.timeout) <= 60:
        p.append(f"{n}: health check interval must be 5-300 s and timeout 2-60 s on ECS")
    if len(spec.routing) != 1:
        p.append(f"{n}: a Fargate service serves exactly one route, not {len(spec.routing)}")
    if spec.config_files:
        p.append(f"{n}: config files cannot be delivered to a Fargate task; bake them into the image")
    if spec.stop_signal:
        p.append(f"{n}: ECS stops a task with SIGTERM only; drop stop_signal {spec.stop_signal}")
    p += [
        f"{n}: secret variable {var} must end in {FILE_SUFFIX}: ECS sets {var.removesuffix(FILE_SUFFIX)} instead"
        for var in spec.secret_env
        if not var.endswith(FILE_SUFFIX)
    ]
    return p


def _plain(service: str, key: str, value: pulumi.Input[str]) -> pulumi.Input[str]:
    """The value; a secret Output here fails the deployment instead of reaching the task definition."""
    if isinstance(value, str):
        return value
    out = pulumi.Output.from_input(value)

    def plain(args: list[Any]) -> str:
        if args[1]:
            raise SpecError([f"{service}: env {key} holds a secret; deliver it with secrets + {key}_FILE"])
        return str(args[0])

    return pulumi.Output.all(out, out.is_secret()).apply(plain)


@dataclass
class EcsWorkloadArgs:
    """What the ECS workload makes before it knows its services: image repositories and secrets."""

    stack: str
    """Stack name: the repositories' and parameters' name prefix."""
    tags: Mapping[str, str]
    """Tags of the repositories and parameters."""
    immutable_image_tags: bool = True
    """A pushed tag can never point at another image (prod); False lets a stack re-push a moving tag."""
    service_names: tuple[str, ...] = ()
    """The Fargate services `deploy` will run, known before their inputs exist (their log groups come first)."""

    @classmethod
    def for_stack(cls, config: StackConfig) -> EcsWorkloadArgs:
        return cls(
            stack=config.stack,
            tags=config.tags_for("registry"),
            immutable_image_tags=config.is_prod,
            service_names=tuple(ecs_service_names(config)),
        )


class EcsWorkload(pulumi.ComponentResource):
    repositories: dict[str, pulumi.Output[str]]
    secrets: dict[str, pulumi.Output[str]]
    tasks: dict[str, TaskDescription]
    services: FargateServices | None
    names: list[str]
    """The Fargate services' names: one CloudWatch log group each."""
    database_password: pulumi.Output[str]
    """RDS's master password. Its master user is Directus's role (CRM_DB_USER), so it is that role's
    generated password, the one Directus's task reads as DB_PASSWORD."""

    def __init__(self, name: str, args: EcsWorkloadArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("quintas:ecs:EcsWorkload", name, None, opts)
        self._args = args
        child = pulumi.ResourceOptions(parent=self, aliases=[moved_from(HOST_WORKLOAD)])
        registry = ImageRepositoriesArgs(stack=args.stack, tags=args.tags, mutable_tags=not args.immutable_image_tags)
        self.repositories = ImageRepositories("images", registry, opts=child).urls
        self.secrets = ServiceSecrets("secrets", ServiceSecretsArgs(), opts=child).values
        self.tasks = {}
        self.services = None
        self.names = list(args.service_names)
        self.database_password = self.secrets[DIRECTUS.secret]

    def deploy(
        self,
        specs: Sequence[ServiceSpec],
        placement: FargateServicesArgs,
        permissions: Mapping[str, Sequence[Mapping[str, Any]]],
    ) -> None:
        """The stateless specs as Fargate services; `permissions`: service -> its task role's statements."""
        if self.services is not None:
            raise SpecError(["the ECS workload is already deployed: call deploy() once"])
        chosen = stateless(specs)
        problems = [p for spec in chosen for p in ecs_problems(spec)]
        problems += [
            f"{n}: permissions given for a service that is not on ECS"
            for n in set(permissions) - {s.name for s in chosen}
        ]
        if problems:
            raise SpecError(problems)
        names = sorted({name for spec in chosen for name in spec.secret_env.values()})
        parameters = {name: self._parameter(name, specs) for name in names}
        self.tasks = {s.name: task_description(s, parameters, permissions.get(s.name, ())) for s in chosen}
        self.services = FargateServices(
            "services", placement, list(self.tasks.values()), opts=pulumi.ResourceOptions(parent=self)
        )
        self.register_outputs({"repositories": self.repositories, "services": list(self.tasks)})

    def _parameter(self, secret: str, specs: Sequence[ServiceSpec]) -> pulumi.Output[str]:
        value = next(s.secrets[secret] for s in specs if secret in s.secrets)
        parameter = aws.ssm.Parameter(
            secret.replace("_", "-"),
            name=f"/quintas-crm/{self._args.stack}/{secret}",
            description=f"{secret}: read by ECS into the tasks that need it",
            type="SecureString",
            tier="Standard",
            value=pulumi.Output.secret(value),
            tags=dict(self._args.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return parameter.arn
