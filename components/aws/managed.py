"""What the managed services of the `ecs` topology share: a security group that admits only
their clients, and CloudWatch alarms that notify the alert topic.

RDS, ElastiCache and the Fargate services each make their own alarms with `alarm`, with
the thresholds the host's Prometheus rules use (services/prometheus/rules): above 80% CPU
or memory for 5 minutes, below 10% free storage, above 90% of the database's connections.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_aws as aws

# One datapoint a minute, five in a row: the host rules' `for: 5m`.
SUSTAINED = {"period": 60, "evaluation_periods": 5}
HIGH_PERCENT = 80.0


def alarm(
    resource_name: str,
    *,
    name_prefix: str,
    description: str,
    topic_arn: pulumi.Input[str],
    tags: Mapping[str, str],
    parent: pulumi.Resource,
    **settings: Any,
) -> aws.cloudwatch.MetricAlarm:
    """One alarm named `<prefix>-<resource_name>` that notifies the topic when it fires and when it clears."""
    return aws.cloudwatch.MetricAlarm(
        resource_name,
        name=f"{name_prefix}-{resource_name}",
        alarm_description=description,
        alarm_actions=[topic_arn],
        ok_actions=[topic_arn],
        tags=dict(tags),
        opts=pulumi.ResourceOptions(parent=parent),
        **settings,
    )


def client_only_group(
    key: str,
    *,
    name: str,
    description: str,
    vpc_id: pulumi.Input[str],
    port: int,
    client_group_id: pulumi.Input[str],
    tags: Mapping[str, str],
    parent: pulumi.Resource,
) -> aws.ec2.SecurityGroup:
    """A security group admitting `port` from the client group only, and the client group's rule out to it.

    The group has no egress rule: a database or cache answers on the connections it accepted
    (security groups are stateful) and opens none of its own.
    """
    opts = pulumi.ResourceOptions(parent=parent)
    group = aws.ec2.SecurityGroup(
        key, name=name, description=description, vpc_id=vpc_id, tags={**tags, "Name": name}, opts=opts
    )
    aws.vpc.SecurityGroupIngressRule(
        f"{key}-in-{port}",
        security_group_id=group.id,
        ip_protocol="tcp",
        from_port=port,
        to_port=port,
        referenced_security_group_id=client_group_id,
        description=f"{port} from the services' tasks only",
        tags=dict(tags),
        opts=opts,
    )
    aws.vpc.SecurityGroupEgressRule(
        f"{key}-out-{port}",
        security_group_id=client_group_id,
        ip_protocol="tcp",
        from_port=port,
        to_port=port,
        referenced_security_group_id=group.id,
        description=f"the services' tasks to {key} on {port}",
        tags=dict(tags),
        opts=opts,
    )
    return group
