"""ContainerStack: every container of the stack on the host, from the catalogue of ServiceSpecs.

Makes the ECR repositories and generated secrets the services need, a Docker
provider that reaches the host's engine over SSH (carried by SSM Session
Manager by default, so no port 22 is open), the `edge`, internal `backend` and
outbound-only `egress` networks, named volumes, and one RemoteImage plus one
Container per spec.

Nothing touches Docker before the host is ready: a local `ssh ... cloud-init
status --wait` over the same SSH path runs first (it opens the run's one multiplexed
connection: components/workload/ssh_path.py), and the provider's address is derived from its
result.

Updates: create-first services (frontend, directus) get no fixed container name
and delete_before_replace=False, set explicitly (left unset, the provider
decides), so the new container starts, turns healthy (the provider waits for it)
and joins Traefik before the old one is removed. delete-first services
(postgres, redis, traefik, the monitoring services on their data volumes) get
delete_before_replace=True and stop first, with a grace period for a clean
shutdown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_aws as aws
import pulumi_command as command
import pulumi_docker as docker

from components.aws.host import AppHost
from components.config import StackConfig
from components.workload.registry import ECS_WORKLOAD, ImageRepositories, ImageRepositoriesArgs, moved_from
from components.workload.secrets import ServiceSecrets, ServiceSecretsArgs
from components.workload.services import (
    HOST_GATEWAY_IP,
    HOST_GATEWAY_NAME,
    INTERNAL_NETWORKS,
    NETWORKS,
    HealthCheck,
    ServiceSpec,
    SpecError,
    labels,
    named_volumes,
    secret_path,
)
from components.workload.ssh_path import ssh_path

PLATFORMS = {"x86_64": "linux/amd64", "arm64": "linux/arm64"}


@dataclass
class ContainersArgs:
    """What the container stack makes before it knows its services: image repositories and secrets."""

    stack: str
    """Stack name: the repositories' name prefix and the `quintas.stack` label."""
    region: str
    """AWS region of the host, its log groups and its SSM endpoint."""
    architecture: Literal["x86_64", "arm64"]
    """The host's CPU architecture: the platform images are pulled for."""
    tags: Mapping[str, str]
    """Tags of the image repositories."""
    immutable_image_tags: bool = True
    """A pushed tag can never point at another image (prod); False lets a stack re-push a moving tag."""

    @classmethod
    def for_stack(cls, config: StackConfig) -> ContainersArgs:
        return cls(
            stack=config.stack,
            region=config.region,
            architecture=config.instance_shape.architecture,
            tags=config.tags_for("registry"),
            immutable_image_tags=config.is_prod,
        )


@dataclass
class HostConnection:
    """How a deployment reaches the host's Docker engine (components/workload/ssh_path.py)."""

    instance_id: pulumi.Input[str]
    """The EC2 instance; SSM Session Manager carries SSH to it."""
    public_ip: pulumi.Input[str]
    """The host's Elastic IP, for `sshMode: direct`."""
    user: pulumi.Input[str] = "ubuntu"
    """The SSH login the deploy key is authorized for."""
    mode: str = "ssm"
    """`ssm` (no port 22 open) or `direct`."""
    ready_marker: str | None = None
    """A file the host's cloud-init writes last; nothing connects before it exists."""
    ready: Sequence[pulumi.Resource] = ()
    """Resources that must exist first: the instance, its data volume, the log groups and the right to write them."""
    preview: bool = False
    """`pulumi preview` (`pulumi.runtime.is_dry_run()`): the provider skips its engine ping and needs no key."""

    @classmethod
    def to(cls, host: AppHost, mode: str, ready: Sequence[pulumi.Resource], preview: bool) -> HostConnection:
        """The deploy key's way to `host`, once `ready` (and the host itself) exist."""
        return cls(host.instance_id, host.public_ip, host.ssh_user, mode, host.ready_marker, [host, *ready], preview)


def topological(specs: Sequence[ServiceSpec]) -> list[ServiceSpec]:
    """Specs ordered so that each comes after what it depends on."""
    by_name = {s.name: s for s in specs}
    done: dict[str, ServiceSpec] = {}
    visiting: set[str] = set()

    def visit(spec: ServiceSpec) -> None:
        if spec.name in done:
            return
        if spec.name in visiting:
            raise SpecError([f"{spec.name}: depends_on forms a cycle"])
        visiting.add(spec.name)
        for dep in spec.depends_on:
            visit(by_name[dep])
        visiting.discard(spec.name)
        done[spec.name] = spec

    for spec in specs:
        visit(spec)
    return list(done.values())


class ContainerStack(pulumi.ComponentResource):
    """Made in two steps: the constructor makes the image repositories and generated secrets
    the catalogue refers to; `deploy` then runs the catalogue's services on the host.
    """

    specs: list[ServiceSpec]
    containers: dict[str, docker.Container]
    repositories: dict[str, pulumi.Output[str]]
    secrets: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: ContainersArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("quintas:containers:ContainerStack", name, None, opts)
        self._args = args
        # Aliased: the `ecs` topology keeps the same repositories and secrets under its own component.
        child = pulumi.ResourceOptions(parent=self, aliases=[moved_from(ECS_WORKLOAD)])
        self._images = ImageRepositories(
            "images",
            ImageRepositoriesArgs(stack=args.stack, tags=args.tags, mutable_tags=not args.immutable_image_tags),
            opts=child,
        )
        self.repositories = self._images.urls
        self.secrets = ServiceSecrets("secrets", ServiceSecretsArgs(), opts=child).values
        self.specs = []
        self.containers = {}

    def deploy(
        self, services: Sequence[ServiceSpec], host: HostConnection, log_groups: Mapping[str, pulumi.Input[str]]
    ) -> None:
        """One container per service on the host, in dependency order; `log_groups`: service -> group name."""
        # Checked before any child exists: a refused stack creates nothing.
        missing = [s.name for s in services if s.name not in log_groups]
        if missing:
            raise SpecError(
                [
                    f"{n}: no CloudWatch log group; the platform creates /quintas-crm/{self._args.stack}/{n}"
                    for n in missing
                ]
            )
        if self.containers:
            raise SpecError(["the container stack is already deployed: call deploy() once"])
        self.specs = topological(services)
        self._log_groups = log_groups
        provider = self._docker_provider(host, self._images.registry)
        docker_opts = pulumi.ResourceOptions(parent=self, provider=provider)
        networks = {
            net: docker.Network(
                net,
                name=net,
                driver="bridge",
                internal=net in INTERNAL_NETWORKS,
                labels=[docker.NetworkLabelArgs(label="quintas.stack", value=self._args.stack)],
                opts=docker_opts,
            )
            for net in NETWORKS
        }
        for vol in named_volumes(self.specs):
            docker.Volume(vol, name=vol, opts=docker_opts)
        for spec in self.specs:
            self.containers[spec.name] = self._container(spec, networks, docker_opts)
        self.register_outputs(
            {
                "containers": {n: c.name for n, c in self.containers.items()},
                "repositories": self.repositories,
            }
        )

    def _docker_provider(self, host: HostConnection, registry: pulumi.Output[str]) -> docker.Provider:
        region = self._args.region
        path = pulumi.Output.all(host.user, host.instance_id, host.public_ip).apply(
            lambda v: ssh_path(host.mode, v[0], v[1], v[2], region, host.ready_marker)
        )
        ready = command.local.Command(
            "host-ready",
            create=path.apply(lambda p: p.ready_command),
            triggers=[host.instance_id],
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(host.ready)),
        )
        # The address depends on the check's output, so the provider cannot connect before it.
        address = pulumi.Output.all(ready.stdout, path).apply(lambda v: v[1].host)
        token = aws.ecr.get_authorization_token_output(opts=pulumi.InvokeOutputOptions(parent=self))
        return docker.Provider(
            "host",
            host=address,
            ssh_opts=path.apply(lambda p: p.options),
            # A preview neither pings the engine nor needs the deploy key: a new stack has no host
            # yet, and pull requests get no key (README: "What a preview shows about containers").
            disable_docker_daemon_check=host.preview,
            registry_auth=[
                docker.ProviderRegistryAuthArgs(
                    address=registry,
                    username=token.user_name,
                    password=pulumi.Output.secret(token.password),
                )
            ],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[ready]),
        )

    def _container(
        self, spec: ServiceSpec, networks: Mapping[str, docker.Network], docker_opts: pulumi.ResourceOptions
    ) -> docker.Container:
        image = docker.RemoteImage(
            spec.name,
            name=spec.image.ref,
            # The old container still runs on the old image during a create-first update.
            keep_locally=True,
            platform=PLATFORMS[self._args.architecture],
            opts=docker_opts,
        )
        deps: list[pulumi.Resource] = [self.containers[d] for d in spec.depends_on]
        health = spec.health
        assert health is not None  # validate() refuses a spec without one
        return docker.Container(
            spec.name,
            image=image.image_id,
            # A fixed name would block create-before-delete: two containers cannot share it.
            name=spec.name if spec.replacement == "delete-first" else None,
            command=list(spec.command) or None,
            envs=[_env_entry(spec.name, k, v) for k, v in spec.environment().items()],
            uploads=_uploads(spec),
            labels=[docker.ContainerLabelArgs(label=k, value=v) for k, v in labels(spec, self._args.stack).items()],
            healthcheck=_healthcheck(health),
            # A host_network service has no Docker network (validate() refuses one), so no networks_advanced.
            network_mode="host" if spec.host_network else None,
            networks_advanced=[
                docker.ContainerNetworksAdvancedArgs(name=networks[n].name, aliases=[spec.name]) for n in spec.networks
            ]
            or None,
            hosts=[docker.ContainerHostArgs(host=HOST_GATEWAY_NAME, ip=HOST_GATEWAY_IP)] if spec.host_gateway else None,
            ports=[docker.ContainerPortArgs(internal=p.container, external=p.host) for p in spec.ports] or None,
            volumes=_volumes(spec),
            memory=spec.memory_mb,
            cpus=f"{spec.cpus:g}",
            shm_size=spec.shm_size_mb,
            restart=spec.restart,
            must_run=True,
            # The provider returns only once the container is healthy: the old one stays until then.
            wait=True,
            wait_timeout=health.seconds_to_healthy() + 30,
            destroy_grace_seconds=spec.stop_grace_seconds,
            stop_timeout=spec.stop_grace_seconds,
            stop_signal=spec.stop_signal,
            privileged=spec.privileged or None,
            pid_mode="host" if spec.pid_host else None,
            log_driver="awslogs",
            log_opts=self._log_opts(spec),
            opts=pulumi.ResourceOptions.merge(
                docker_opts,
                # Set either way, never left unset: unset, the provider chooses the order itself.
                pulumi.ResourceOptions(depends_on=deps, delete_before_replace=spec.replacement == "delete-first"),
            ),
        )

    def _log_opts(self, spec: ServiceSpec) -> Mapping[str, pulumi.Input[str]]:
        return {
            "awslogs-region": self._args.region,
            "awslogs-group": self._log_groups[spec.name],
            "awslogs-create-group": "false",
            # One stream per container: old and new never write to the same stream during an update.
            "tag": "{{.Name}}/{{.ID}}",
            "mode": spec.logs.mode,
            "max-buffer-size": spec.logs.max_buffer,
        }


def _healthcheck(health: HealthCheck) -> docker.ContainerHealthcheckArgs:
    return docker.ContainerHealthcheckArgs(
        tests=["CMD", *health.test],
        interval=health.interval,
        timeout=health.timeout,
        retries=health.retries,
        start_period=health.start_period,
    )


def _volumes(spec: ServiceSpec) -> list[docker.ContainerVolumeArgs] | None:
    mounts = [
        docker.ContainerVolumeArgs(
            container_path=v.target,
            host_path=v.source if v.is_host_path else None,
            volume_name=None if v.is_host_path else v.source,
            read_only=v.read_only,
        )
        for v in spec.volumes
    ]
    return mounts or None


def _uploads(spec: ServiceSpec) -> list[docker.ContainerUploadArgs] | None:
    files = [
        docker.ContainerUploadArgs(
            file=secret_path(name),
            content=pulumi.Output.secret(value),
            permissions="0400",
            owner=spec.file_owner,
        )
        for name, value in sorted(spec.secrets.items())
    ]
    files += [
        docker.ContainerUploadArgs(file=path, content=content, permissions="0444")
        for path, content in sorted(spec.config_files.items())
    ]
    return files or None


def _env_entry(service: str, key: str, value: pulumi.Input[str]) -> pulumi.Input[str]:
    """`KEY=value`; a secret Output here fails the deployment instead of reaching the container's env."""
    if isinstance(value, str):
        return f"{key}={value}"
    out = pulumi.Output.from_input(value)

    def plain(args: list[object]) -> str:
        if args[1]:
            raise SpecError([f"{service}: env {key} holds a secret; deliver it with secrets + {key}_FILE"])
        return f"{key}={args[0]}"

    return pulumi.Output.all(out, pulumi.Output.from_input(out.is_secret())).apply(plain)
