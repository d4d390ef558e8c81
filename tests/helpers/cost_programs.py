"""Small programs for the cost tests: each billable resource type with realistic inputs.

They run on the simulated engine like the real `__main__.py`, so the estimator
reads the same recorded inputs it reads from the platform.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.config import StackConfig
from ops.cost import estimate as cost


@dataclass(frozen=True)
class Shape:
    instance_type: str = "t3.large"
    root_gb: int = 20
    data_gb: int = 100
    data_iops: int = 3000
    data_throughput: int = 125
    monitoring: bool = True
    retain: int = 14
    log_groups: int = 4
    log_days: int = 90
    alarms: int = 5
    emails: int = 2


def platform(shape: Shape = Shape()) -> None:
    """The shape of the platform: host, data volume, snapshots, buckets, ALB, alarms, DNS check."""
    tags = {"project": "quintas-crm-infra", "stack": pulumi.get_stack(), "owner": "platform-team"}
    subnets = _network(tags)
    _host(shape, tags, subnets[0])
    _buckets_and_alb(tags, subnets)
    _alerts(shape, tags)
    aws.kms.Key("data", description="data key", enable_key_rotation=True, tags=tags)
    aws.ecr.Repository("frontend", name="quintas-crm/frontend", tags=tags)


def _network(tags: dict[str, str]) -> list[aws.ec2.Subnet]:
    vpc = aws.ec2.Vpc("vpc", cidr_block="10.40.0.0/16", tags=tags)
    subnets = [
        aws.ec2.Subnet(f"public-{n}", vpc_id=vpc.id, cidr_block=f"10.40.{n}.0/24", availability_zone=f"us-east-1{az}")
        for n, az in ((1, "a"), (2, "b"))
    ]
    aws.ec2.SecurityGroup("host", vpc_id=vpc.id, description="host", tags=tags)
    return subnets


def _host(shape: Shape, tags: dict[str, str], subnet: aws.ec2.Subnet) -> None:
    """The instance with its address, the data volume and its daily snapshots."""
    host = aws.ec2.Instance(
        "host",
        ami="ami-0123456789abcdef0",
        instance_type=shape.instance_type,
        subnet_id=subnet.id,
        monitoring=shape.monitoring,
        associate_public_ip_address=True,
        root_block_device={"volume_size": shape.root_gb, "volume_type": "gp3", "encrypted": True},
        tags=tags,
    )
    aws.ec2.Eip("host", domain="vpc", instance=host.id, tags=tags)
    aws.ebs.Volume(
        "data",
        availability_zone="us-east-1a",
        size=shape.data_gb,
        type="gp3",
        iops=shape.data_iops,
        throughput=shape.data_throughput,
        encrypted=True,
        tags={**tags, "snapshot": "daily"},
    )
    aws.dlm.LifecyclePolicy(
        "snapshots",
        description="daily snapshots of the data volume",
        execution_role_arn="arn:aws:iam::123456789012:role/dlm",
        state="ENABLED",
        policy_details={
            "resource_types": ["VOLUME"],
            "target_tags": {"snapshot": "daily"},
            "schedules": [
                {
                    "name": "daily",
                    "create_rule": {"interval": 24, "interval_unit": "HOURS", "times": "07:00"},
                    "retain_rule": {"count": shape.retain},
                    "copy_tags": True,
                }
            ],
        },
        tags=tags,
    )


def _buckets_and_alb(tags: dict[str, str], subnets: list[aws.ec2.Subnet]) -> None:
    for name in ("uploads", "backups", "logs"):
        aws.s3.Bucket(name, bucket=f"quintas-crm-{pulumi.get_stack()}-{name}", tags=tags)
    aws.lb.LoadBalancer(
        "alb",
        load_balancer_type="application",
        subnets=[s.id for s in subnets],
        drop_invalid_header_fields=True,
        tags=tags,
    )


def _alerts(shape: Shape, tags: dict[str, str]) -> None:
    """The topic and its e-mails, the alarms, the log groups and the external health check."""
    topic = aws.sns.Topic("alerts", name=f"quintas-crm-{pulumi.get_stack()}-alerts", tags=tags)
    for n in range(shape.emails):
        aws.sns.TopicSubscription(f"email-{n}", topic=topic.arn, protocol="email", endpoint=f"ops{n}@example.com")
    for n in range(shape.alarms):
        aws.cloudwatch.MetricAlarm(
            f"alarm-{n}",
            comparison_operator="GreaterThanThreshold",
            evaluation_periods=2,
            metric_name="UnHealthyHostCount",
            namespace="AWS/ApplicationELB",
            period=60,
            statistic="Maximum",
            threshold=0,
            alarm_actions=[topic.arn],
            tags=tags,
        )
    for n in range(shape.log_groups):
        aws.cloudwatch.LogGroup(f"logs-{n}", name=f"/quintas/{n}", retention_in_days=shape.log_days, tags=tags)
    aws.route53.HealthCheck(
        "app",
        type="HTTPS",
        fqdn="app.quintas-crm.example",
        port=443,
        resource_path="/",
        request_interval=30,
        failure_threshold=3,
        tags=tags,
    )


def configured() -> None:
    """The platform sized from the stack's settings, so overrides move it as they move the real one."""
    config = StackConfig.load()
    platform(
        Shape(
            instance_type=config.instance_type,
            data_gb=config.data_volume_size_gb,
            monitoring=config.is_prod,
            retain=config.snapshot_retention_days,
            log_days=config.log_retention_days,
            emails=len(config.alert_emails),
        )
    )


@functools.cache
def real_estimate(stack: str) -> tuple[cost.Estimate, StackConfig]:
    """The estimate of the real program with the stack's own settings (one run per test session)."""
    run, config = cost.run_with_config(stack)
    return cost.estimate(run, config), config
