"""Cache: Redis on ElastiCache for the `ecs` topology, in place of the host's redis container.

A replication group encrypted at rest and in transit (clients connect with `rediss://`),
reachable only from the services' tasks, never from the internet. Prod has a replica in
the other availability zone with automatic failover; staging one node. As on the host it
is a cache: no persistence or snapshots (Directus rebuilds it), the least recently used
keys evicted when full (the host's `--maxmemory-policy allkeys-lru`, here in a parameter
group). Alarm: engine CPU above 80% for 5 minutes, per node; memory is not alarmed,
because a full cache that evicts is how it is meant to run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws.database import maintenance_window
from components.aws.managed import HIGH_PERCENT, SUSTAINED, alarm, client_only_group
from components.aws.monitoring import Monitoring
from components.aws.network import Network
from components.aws.security import SecurityGroups
from components.aws.volume import snapshot_time_utc
from components.config import StackConfig

ENGINE_VERSION = "7.1"
PARAMETER_FAMILY = "redis7"
PORT = 6379


@dataclass
class CacheArgs:
    name: str
    """Prefix of physical names, e.g. quintas-crm-prod."""
    tags: Mapping[str, str]
    """Tags of the replication group, its groups and alarms."""
    vpc_id: pulumi.Input[str]
    """The VPC of the cache's security group."""
    subnet_ids: Sequence[pulumi.Input[str]]
    """Subnets in two availability zones: a replica runs in the other zone than the primary."""
    client_security_group_id: pulumi.Input[str]
    """The services' tasks' group: the only one admitted on 6379."""
    node_type: str
    """ElastiCache node type, e.g. cache.t4g.small."""
    alert_topic_arn: pulumi.Input[str]
    """SNS topic the alarms notify."""
    maintenance_after_utc: str = "03:00"
    """The weekly maintenance hour starts two hours after this `HH:MM` UTC (the daily backup time)."""
    replica: bool = True
    """A replica in the other zone with automatic failover. Default on; off in staging (one node)."""

    @classmethod
    def for_stack(
        cls, config: StackConfig, network: Network, security: SecurityGroups, monitoring: Monitoring
    ) -> CacheArgs:
        return cls(
            name=config.name_prefix,
            tags=config.tags_for("cache"),
            vpc_id=network.vpc_id,
            subnet_ids=network.subnet_ids,
            client_security_group_id=security.host_security_group_id,
            node_type=config.scale_out.cache_node_type,
            alert_topic_arn=monitoring.alert_topic_arn,
            maintenance_after_utc=snapshot_time_utc(config.backup_time, config.time_zone, delay_hours=0),
            replica=config.is_prod,
        )


class Cache(pulumi.ComponentResource):
    url: pulumi.Output[str]
    """`rediss://<primary endpoint>:6379`: TLS to the primary node, which a failover moves."""

    def __init__(self, name: str, args: CacheArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("quintas:cache:Cache", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        group_id = f"{args.name}-redis"
        group = client_only_group(
            "redis",
            name=group_id,
            description="Quintas CRM Redis: 6379 from the services' tasks only",
            vpc_id=args.vpc_id,
            port=PORT,
            client_group_id=args.client_security_group_id,
            tags=args.tags,
            parent=self,
        )
        subnets = aws.elasticache.SubnetGroup(
            "redis", name=group_id, subnet_ids=list(args.subnet_ids), tags=dict(args.tags), opts=child
        )
        parameters = aws.elasticache.ParameterGroup(
            "redis",
            name=f"{group_id}-7",
            family=PARAMETER_FAMILY,
            description="Quintas CRM: a cache that evicts the least recently used keys",
            parameters=[aws.elasticache.ParameterGroupParameterArgs(name="maxmemory-policy", value="allkeys-lru")],
            tags=dict(args.tags),
            opts=child,
        )
        nodes = 2 if args.replica else 1
        redis = self._replication_group(args, group_id, nodes, group, subnets, parameters)
        for node in range(1, nodes + 1):
            # ElastiCache names a replication group's nodes <group id>-001, -002, ...
            alarm(
                f"redis-{node:03d}-cpu",
                name_prefix=args.name,
                description=f"Redis node {node} engine CPU above {HIGH_PERCENT:g}% for 5 minutes",
                topic_arn=args.alert_topic_arn,
                tags=args.tags,
                parent=self,
                namespace="AWS/ElastiCache",
                metric_name="EngineCPUUtilization",
                dimensions={"CacheClusterId": redis.replication_group_id.apply(lambda g, n=node: f"{g}-{n:03d}")},
                statistic="Average",
                threshold=HIGH_PERCENT,
                comparison_operator="GreaterThanThreshold",
                **SUSTAINED,
            )
        self.url = pulumi.Output.concat("rediss://", redis.primary_endpoint_address, f":{PORT}")
        self.register_outputs({"url": self.url})

    def _replication_group(
        self,
        args: CacheArgs,
        group_id: str,
        nodes: int,
        group: aws.ec2.SecurityGroup,
        subnets: aws.elasticache.SubnetGroup,
        parameters: aws.elasticache.ParameterGroup,
    ) -> aws.elasticache.ReplicationGroup:
        return aws.elasticache.ReplicationGroup(
            "redis",
            replication_group_id=group_id,
            description="Quintas CRM cache (Directus)",
            engine="redis",
            engine_version=ENGINE_VERSION,
            node_type=args.node_type,
            num_cache_clusters=nodes,
            automatic_failover_enabled=args.replica,
            multi_az_enabled=args.replica,
            port=PORT,
            subnet_group_name=subnets.name,
            security_group_ids=[group.id],
            parameter_group_name=parameters.name,
            at_rest_encryption_enabled=True,
            transit_encryption_enabled=True,
            transit_encryption_mode="required",
            snapshot_retention_limit=0,
            auto_minor_version_upgrade=True,
            maintenance_window=maintenance_window(args.maintenance_after_utc),
            tags={**args.tags, "Name": group_id},
            opts=pulumi.ResourceOptions(parent=self),
        )
