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
from components.workload.catalogue import service_names
from components.workload.containers import ContainersArgs, ContainerStack
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
        names = service_names(config) + [s.name for s in extra]
        groups = {
            n: aws.cloudwatch.LogGroup(n, name=f"/quintas-crm/{config.stack}/{n}", retention_in_days=14).name
            for n in names
        }
        stack = ContainerStack(
            "containers",
            ContainersArgs(
                config=config,
                instance_id=host.id,
                public_ip=eip.public_ip,
                region=config.region,
                ssh_mode=config.ssh_mode,
                log_groups=groups,
                uploads_bucket=config.name("uploads"),
                backups_bucket=config.name("backups"),
                host_ready=[host, eip],
                ready_marker="/var/lib/quintas-crm/host-ready",
                postgres_settings=dict(postgres_settings or {}),
                config_files=dict(config_files or {}),
                extra_services=extra,
                preview=preview,
            ),
        )
        pulumi.export("repositories", stack.repositories)
        pulumi.export("containers", {n: c.name for n, c in stack.containers.items()})

    return program
