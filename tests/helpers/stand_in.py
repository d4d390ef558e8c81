"""A test program: the container stack wired to stand-ins for the platform's outputs.

The platform (host, buckets, log groups) is another component; until it is
wired in __main__.py these stand-ins give ContainerStack the same kinds of
values: an instance id and Elastic IP from EC2 resources, bucket names, one
CloudWatch log group per service named `/quintas-crm/<stack>/<service>`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import pulumi
import pulumi_aws as aws

from components.config import StackConfig
from components.workload.catalogue import CatalogueInputs, catalogue
from components.workload.containers import ContainersArgs, ContainerStack, HostConnection
from components.workload.services import ServiceSpec


def containers_program(
    extra: Sequence[ServiceSpec] = (),
    postgres_settings: Mapping[str, str] | None = None,
    config_files: Mapping[str, Mapping[str, str]] | None = None,
    preview: bool = False,
) -> Callable[[], None]:
    def program() -> None:
        config = StackConfig.load()
        host = aws.ec2.Instance("host", ami="ami-0e2c8caa4b6378d8c", instance_type=config.instance_type)
        eip = aws.ec2.Eip("host", instance=host.id, domain="vpc")
        stack = ContainerStack(
            "containers",
            ContainersArgs(
                stack=config.stack,
                region=config.region,
                architecture=config.instance_shape.architecture,
                tags=config.tags_for("registry"),
                immutable_image_tags=config.is_prod,
            ),
        )
        inputs = CatalogueInputs(
            repositories=stack.repositories,
            uploads_bucket=f"{config.name_prefix}-uploads",
            backups_bucket=f"{config.name_prefix}-backups",
            secrets=stack.secrets,
            postgres_settings=dict(postgres_settings or {}),
            config_files=dict(config_files or {}),
        )
        services = catalogue(config, inputs, extra=extra)
        groups = {
            s.name: aws.cloudwatch.LogGroup(
                s.name, name=f"/quintas-crm/{config.stack}/{s.name}", retention_in_days=14
            ).name
            for s in services
        }
        connection = HostConnection(
            instance_id=host.id,
            public_ip=eip.public_ip,
            mode=config.ssh_mode,
            ready_marker="/var/lib/quintas-crm/host-ready",
            ready=[host, eip],
            preview=preview,
        )
        stack.deploy(services, connection, groups)
        pulumi.export("repositories", stack.repositories)
        pulumi.export("containers", {n: c.name for n, c in stack.containers.items()})

    return program
