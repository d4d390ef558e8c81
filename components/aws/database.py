"""Database: PostgreSQL 16 on RDS for the `ecs` topology, in place of the host's postgres container.

- Multi-AZ (prod), encrypted gp3 storage, never publicly accessible, reachable only from
  the services' tasks (components/aws/managed.py) and only over TLS (`rds.force_ssl`).
- Automated backups kept for the stack's recovery window (RDS allows 35 days at most:
  StackConfig refuses a longer window with this topology), so point-in-time restore
  reaches as far back as the host's Barman Cloud backups; the daily backup window starts
  at the host's backup time. PostGIS is an extension RDS ships: `CREATE EXTENSION postgis`.
- Prod: deletion protection, a final snapshot, Pulumi `protect` and `retain_on_delete`.
- A parameter group with the host's server settings that RDS lets a customer set
  (components/workload/ecs_services.py rds_parameters); memory sizing is RDS' own default,
  the same 25% / 50% of memory the host gives shared_buffers and effective_cache_size.
- Alarms: CPU above 80% for 5 minutes, free storage below 10%, connections above 90% of
  max_connections, to the alert topic; the server log goes to a log group with the stack's retention.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws.managed import HIGH_PERCENT, SUSTAINED, alarm, client_only_group
from components.aws.monitoring import Monitoring
from components.aws.network import Network
from components.aws.security import SecurityGroups
from components.aws.volume import snapshot_time_utc
from components.backups import CRM_DATABASE, CRM_DB_USER
from components.config import StackConfig

ENGINE_VERSION = "16"
PARAMETER_FAMILY = "postgres16"
PORT = 5432
MAX_BACKUP_RETENTION_DAYS = 35  # RDS' limit for automated backups
# Parameters that take effect only after a reboot (RDS refuses `immediate` for them).
STATIC_PARAMETERS = frozenset({"max_connections", "shared_preload_libraries"})


def maintenance_window(backup_start_utc: str) -> str:
    """An hour on Sundays starting two hours after the daily backup starts (the two must not overlap)."""
    hour, minute = (int(p) for p in backup_start_utc.split(":"))
    start = datetime.datetime(2025, 1, 12, hour, minute) + datetime.timedelta(hours=2)  # 2025-01-12 is a Sunday
    end = start + datetime.timedelta(hours=1)
    return f"{start:%a}:{start:%H:%M}-{end:%a}:{end:%H:%M}".lower()


def backup_window(backup_start_utc: str) -> str:
    hour, minute = (int(p) for p in backup_start_utc.split(":"))
    start = datetime.datetime(2025, 1, 15, hour, minute)
    return f"{start:%H:%M}-{start + datetime.timedelta(minutes=30):%H:%M}"


@dataclass
class DatabaseArgs:
    name: str
    """Prefix of physical names, e.g. quintas-crm-prod."""
    tags: Mapping[str, str]
    """Tags of the instance (and its snapshots), its groups, alarms and log group."""
    vpc_id: pulumi.Input[str]
    """The VPC of the database's security group."""
    subnet_ids: Sequence[pulumi.Input[str]]
    """Subnets in two availability zones: the standby of a Multi-AZ instance runs in the other one."""
    client_security_group_id: pulumi.Input[str]
    """The services' tasks' group: the only one admitted on 5432."""
    instance_class: str
    """RDS instance class, e.g. db.t4g.medium."""
    storage_gb: int
    """Allocated gp3 storage in GiB (the host's data volume size)."""
    password: pulumi.Input[str]
    """The master password: the generated postgres_password Directus logs in with."""
    parameters: Mapping[str, str]
    """PostgreSQL parameters of the instance's parameter group."""
    backup_retention_days: int
    """Days of automated backups and point-in-time restore (1-35)."""
    backup_start_utc: str
    """When the daily backup starts, `HH:MM` UTC; the weekly maintenance hour follows it."""
    alert_topic_arn: pulumi.Input[str]
    """SNS topic the alarms notify."""
    log_retention_days: int
    """Days CloudWatch keeps the server log."""
    log_kms_key_arn: pulumi.Input[str] | None = None
    """The KMS key of the server log's group (the stack's telemetry key); None: CloudWatch's own encryption."""
    multi_az: bool = True
    """A synchronous standby in the other zone, failed over to automatically. Default on; off in staging."""
    deletion_protection: bool = True
    """RDS deletion protection, Pulumi protect and retain_on_delete, and a final snapshot. Default on;
    off lets a teardown delete the database (staging)."""

    @classmethod
    def for_stack(
        cls,
        config: StackConfig,
        network: Network,
        security: SecurityGroups,
        monitoring: Monitoring,
        password: pulumi.Input[str],
        parameters: Mapping[str, str],
    ) -> DatabaseArgs:
        """Open to the targets' group (the tasks), backups from the stack's recovery window and backup time."""
        return cls(
            name=config.name_prefix,
            tags=config.tags_for("database"),
            vpc_id=network.vpc_id,
            subnet_ids=network.subnet_ids,
            client_security_group_id=security.host_security_group_id,
            instance_class=config.scale_out.database_instance_class,
            storage_gb=config.data_volume_size_gb,
            password=password,
            parameters=parameters,
            backup_retention_days=min(config.recovery_window_days, MAX_BACKUP_RETENTION_DAYS),
            backup_start_utc=snapshot_time_utc(config.backup_time, config.time_zone, delay_hours=0),
            alert_topic_arn=monitoring.alert_topic_arn,
            log_retention_days=config.log_retention_days,
            log_kms_key_arn=monitoring.log_kms_key_arn,
            multi_az=config.is_prod,
            deletion_protection=config.is_prod,
        )


class Database(pulumi.ComponentResource):
    address: pulumi.Output[str]
    """The instance's DNS name (it follows a Multi-AZ failover)."""
    identifier: pulumi.Output[str]

    def __init__(self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("quintas:database:Database", name, None, opts)
        if not 1 <= args.backup_retention_days <= MAX_BACKUP_RETENTION_DAYS:
            raise ValueError(f"backup retention {args.backup_retention_days} days: RDS keeps 1 to 35 days")
        child = pulumi.ResourceOptions(parent=self)
        identifier = f"{args.name}-postgres"
        group = client_only_group(
            "postgres",
            name=identifier,
            description="Quintas CRM PostgreSQL: 5432 from the services' tasks only",
            vpc_id=args.vpc_id,
            port=PORT,
            client_group_id=args.client_security_group_id,
            tags=args.tags,
            parent=self,
        )
        subnets = aws.rds.SubnetGroup(
            "postgres", name=identifier, subnet_ids=list(args.subnet_ids), tags=dict(args.tags), opts=child
        )
        parameters = aws.rds.ParameterGroup(
            "postgres",
            name=f"{identifier}-16",
            family=PARAMETER_FAMILY,
            description="Quintas CRM: the host's PostgreSQL settings, TLS required",
            parameters=[
                aws.rds.ParameterGroupParameterArgs(
                    name=key, value=value, apply_method="pending-reboot" if key in STATIC_PARAMETERS else "immediate"
                )
                for key, value in sorted({**args.parameters, "rds.force_ssl": "1"}.items())
            ],
            tags=dict(args.tags),
            opts=child,
        )
        # RDS creates this group itself, without retention, if the instance exports its log first.
        log = aws.cloudwatch.LogGroup(
            "postgres-log",
            name=f"/aws/rds/instance/{identifier}/postgresql",
            retention_in_days=args.log_retention_days,
            kms_key_id=args.log_kms_key_arn,
            tags=dict(args.tags),
            opts=child,
        )
        instance = self._instance(args, identifier, group, subnets, parameters, log)
        self._alarms(args, instance, int(args.parameters.get("max_connections", "100")))
        self.address = instance.address
        self.identifier = instance.identifier
        self.register_outputs({"address": instance.address, "identifier": instance.identifier})

    def _instance(
        self,
        args: DatabaseArgs,
        identifier: str,
        group: aws.ec2.SecurityGroup,
        subnets: aws.rds.SubnetGroup,
        parameters: aws.rds.ParameterGroup,
        log: aws.cloudwatch.LogGroup,
    ) -> aws.rds.Instance:
        protected = args.deletion_protection
        return aws.rds.Instance(
            "postgres",
            identifier=identifier,
            engine="postgres",
            engine_version=ENGINE_VERSION,
            instance_class=args.instance_class,
            allocated_storage=args.storage_gb,
            storage_type="gp3",
            storage_encrypted=True,
            db_name=CRM_DATABASE,
            username=CRM_DB_USER,
            password=pulumi.Output.secret(args.password),
            port=PORT,
            db_subnet_group_name=subnets.name,
            vpc_security_group_ids=[group.id],
            parameter_group_name=parameters.name,
            publicly_accessible=False,
            multi_az=args.multi_az,
            backup_retention_period=args.backup_retention_days,
            backup_window=backup_window(args.backup_start_utc),
            maintenance_window=maintenance_window(args.backup_start_utc),
            copy_tags_to_snapshot=True,
            auto_minor_version_upgrade=True,
            enabled_cloudwatch_logs_exports=["postgresql"],
            deletion_protection=protected,
            skip_final_snapshot=not protected,
            final_snapshot_identifier=f"{identifier}-final" if protected else None,
            tags={**args.tags, "Name": identifier},
            # As the host's data volume: prod's database survives a `pulumi destroy` and a replacement.
            opts=pulumi.ResourceOptions(parent=self, protect=protected, retain_on_delete=protected, depends_on=[log]),
        )

    def _alarms(self, args: DatabaseArgs, instance: aws.rds.Instance, max_connections: int) -> None:
        free = args.storage_gb * 1024**3 * 0.10
        checks = [
            (
                "postgres-cpu",
                f"PostgreSQL CPU above {HIGH_PERCENT:g}% for 5 minutes",
                "CPUUtilization",
                "Average",
                HIGH_PERCENT,
                "GreaterThanThreshold",
            ),
            (
                "postgres-storage",
                "PostgreSQL storage below 10% free for 5 minutes",
                "FreeStorageSpace",
                "Minimum",
                free,
                "LessThanThreshold",
            ),
            (
                "postgres-connections",
                f"PostgreSQL connections above 90% of max_connections ({max_connections})",
                "DatabaseConnections",
                "Maximum",
                max_connections * 0.9,
                "GreaterThanThreshold",
            ),
        ]
        for key, description, metric_name, statistic, threshold, comparison in checks:
            alarm(
                key,
                name_prefix=args.name,
                description=description,
                topic_arn=args.alert_topic_arn,
                tags=args.tags,
                parent=self,
                namespace="AWS/RDS",
                dimensions={"DBInstanceIdentifier": instance.identifier},
                metric_name=metric_name,
                statistic=statistic,
                threshold=threshold,
                comparison_operator=comparison,
                **SUSTAINED,
            )
