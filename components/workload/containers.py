"""ContainerStack: every container of the stack on the host, from the catalogue of ServiceSpecs.

Makes the ECR repositories and generated secrets the services need, a Docker
provider that reaches the host's engine over SSH (carried by SSM Session
Manager by default, so no port 22 is open), the `edge`, internal `backend` and
outbound-only `egress` networks, named volumes, and one RemoteImage plus one
Container per spec.

Nothing touches Docker before the host is ready: a local `ssh ... cloud-init
status --wait` over the same SSH path runs first (it opens the run's one multiplexed
connection: components/ssh_path.py), and the provider's address is derived from its
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

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_command as command
import pulumi_docker as docker

from components.config import StackConfig
from components.workload.catalogue import CatalogueInputs, catalogue, service_names
from components.workload.registry import ImageRepositories, ImageRepositoriesArgs
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
    with_config_files,
)
from components.workload.ssh_path import ssh_path

PLATFORMS = {"x86_64": "linux/amd64", "arm64": "linux/arm64"}


@dataclass
class ContainersArgs:
    """The platform's outputs the containers need, as plain Inputs.

    log_groups: CloudWatch log group name per service (`/quintas-crm/<stack>/<service>`).
    host_ready: resources that must exist before anything connects (instance, volume attachment...).
    extra_services: more ServiceSpecs beside the catalogue; postgres_settings and
    config_files are the hooks of the backups and monitoring components.
    """

    config: StackConfig
    instance_id: pulumi.Input[str]
    public_ip: pulumi.Input[str]
    region: str
    log_groups: Mapping[str, pulumi.Input[str]]
    uploads_bucket: pulumi.Input[str]
    backups_bucket: pulumi.Input[str]
    ssh_user: pulumi.Input[str] = "ubuntu"
    ssh_mode: str = "ssm"
    host_ready: Sequence[pulumi.Resource] = ()
    ready_marker: str | None = None  # a file the host's cloud-init writes last, if it has one
    preview: bool = False  # pulumi preview (`pulumi.runtime.is_dry_run()`): the provider skips its engine ping
    postgres_settings: Mapping[str, str] = field(default_factory=dict)
    config_files: Mapping[str, Mapping[str, pulumi.Input[str]]] = field(default_factory=dict)
    extra_services: Sequence[ServiceSpec] = ()
    # Files rendered from the final list of services (Prometheus' scrape jobs come from every
    # spec's `metrics`): called with the specs, returns per service its files (path -> content).
    files_from_specs: Callable[[Sequence[ServiceSpec]], Mapping[str, Mapping[str, pulumi.Input[str]]]] | None = None


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
    specs: list[ServiceSpec]
    containers: dict[str, docker.Container]
    repositories: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: ContainersArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("quintas:containers:ContainerStack", name, None, opts)
        config = args.config
        # Checked before any child exists: a refused stack creates nothing.
        names = [*service_names(config), *(spec.name for spec in args.extra_services)]
        missing = [n for n in names if n not in args.log_groups]
        if missing:
            raise SpecError(
                [f"{n}: no CloudWatch log group; the platform creates /quintas-crm/{config.stack}/{n}" for n in missing]
            )
        child = pulumi.ResourceOptions(parent=self)
        images = ImageRepositories(
            "images",
            ImageRepositoriesArgs(
                stack=config.stack, tags=config.tags_for("registry"), mutable_tags=not config.is_prod
            ),
            opts=child,
        )
        secrets = ServiceSecrets("secrets", ServiceSecretsArgs(), opts=child)
        inputs = CatalogueInputs(
            repositories=images.urls,
            uploads_bucket=args.uploads_bucket,
            backups_bucket=args.backups_bucket,
            secrets=secrets.values,
            postgres_settings=args.postgres_settings,
            config_files=args.config_files,
        )
        specs = catalogue(config, inputs, extra=args.extra_services)
        if args.files_from_specs is not None:
            specs = with_config_files(specs, args.files_from_specs(specs))
        self.specs = topological(specs)
        self._args = args
        provider = self._docker_provider(args, images.registry)
        docker_opts = pulumi.ResourceOptions(parent=self, provider=provider)
        networks = {
            net: docker.Network(
                net,
                name=net,
                driver="bridge",
                internal=net in INTERNAL_NETWORKS,
                labels=[docker.NetworkLabelArgs(label="quintas.stack", value=config.stack)],
                opts=docker_opts,
            )
            for net in NETWORKS
        }
        for vol in named_volumes(self.specs):
            docker.Volume(vol, name=vol, opts=docker_opts)
        self.containers = {}
        for spec in self.specs:
            self.containers[spec.name] = self._container(spec, networks, docker_opts)
        self.repositories = images.urls
        self.register_outputs(
            {
                "containers": {n: c.name for n, c in self.containers.items()},
                "repositories": images.urls,
            }
        )

    def _docker_provider(self, args: ContainersArgs, registry: pulumi.Output[str]) -> docker.Provider:
        path = pulumi.Output.all(args.ssh_user, args.instance_id, args.public_ip).apply(
            lambda v: ssh_path(args.ssh_mode, v[0], v[1], v[2], args.region, args.ready_marker)
        )
        ready = command.local.Command(
            "host-ready",
            create=path.apply(lambda p: p.ready_command),
            triggers=[args.instance_id],
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.host_ready)),
        )
        # The address depends on the check's output, so the provider cannot connect before it.
        host = pulumi.Output.all(ready.stdout, path).apply(lambda v: v[1].host)
        token = aws.ecr.get_authorization_token_output(opts=pulumi.InvokeOutputOptions(parent=self))
        return docker.Provider(
            "host",
            host=host,
            ssh_opts=path.apply(lambda p: p.options),
            # A preview neither pings the engine nor needs the deploy key: a new stack has no host
            # yet, and pull requests get no key (README: "What a preview shows about containers").
            disable_docker_daemon_check=args.preview,
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
        config = self._args.config
        image = docker.RemoteImage(
            spec.name,
            name=spec.image.ref,
            # The old container still runs on the old image during a create-first update.
            keep_locally=True,
            platform=PLATFORMS[config.instance_shape.architecture],
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
            labels=[docker.ContainerLabelArgs(label=k, value=v) for k, v in labels(spec, config.stack).items()],
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
            "awslogs-group": self._args.log_groups[spec.name],
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
