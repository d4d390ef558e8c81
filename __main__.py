"""Quintas CRM on AWS: one stack (staging or prod) of the whole environment.

Reads the stack settings once, builds the platform from them and exports the
outputs the DNS cutover and the operators use (documented in the README:
"Stack outputs").

Internet -> ALB (TLS) -> target groups :3000 app, :8055 cms -> EC2 host (Docker)
  host: data volume at /srv/data; S3 uploads, backups, logs; CloudWatch alarms -> SNS.
  containers on the host: Traefik -> frontend, directus -> postgres, redis; monitoring.
"""

import functools

import pulumi

from components.aws.buckets import Buckets, BucketsArgs
from components.aws.host import AppHost, AppHostArgs
from components.aws.load_balancer import LoadBalancer, LoadBalancerArgs, Route
from components.aws.monitoring import Monitoring, MonitoringArgs
from components.aws.network import Network, NetworkArgs
from components.aws.security import SecurityGroups, SecurityGroupsArgs
from components.aws.volume import DataVolume, DataVolumeArgs, snapshot_time_utc
from components.backups import stack_postgres_settings
from components.config import StackConfig
from components.workload.catalogue import service_names
from components.workload.containers import ContainersArgs, ContainerStack
from components.workload.monitoring_config import monitoring_files

ROUTES = (("app", 3000, "/api/health", 10), ("cms", 8055, "/server/ping", 20))

config = StackConfig.load()
# One CloudWatch log group per container of the catalogue (the backup job included).
SERVICES = tuple(service_names(config))
base, tags = f"quintas-crm-{config.stack}", config.tags_for  # physical name prefix, tags per component

network = Network("network", NetworkArgs(tags=tags("network"), name=base, cidr_block=config.vpc_cidr))
security = SecurityGroups(
    "security",
    SecurityGroupsArgs(
        vpc_id=network.vpc_id, name=base, tags=tags("security"),
        ssh_mode=config.ssh_mode, admin_cidrs=config.admin_cidrs,
    ),
)  # fmt: skip
buckets = Buckets(
    "buckets",
    BucketsArgs(
        name=base, tags=tags("buckets"), is_prod=config.is_prod,
        noncurrent_version_expiration_days=config.noncurrent_version_expiration_days,
        access_log_expiration_days=config.access_log_expiration_days, replica_region=config.replica_region,
    ),
)  # fmt: skip
data = DataVolume(
    "data",
    DataVolumeArgs(
        name=base, tags=tags("volume"), availability_zone=network.availability_zones[0],
        size_gb=config.data_volume_size_gb, region=config.region, keep=config.is_prod,
        snapshot_retention_days=config.snapshot_retention_days,
        snapshot_time_utc=snapshot_time_utc(config.backup_time, config.time_zone),
    ),
)  # fmt: skip
host = AppHost(
    "host",
    AppHostArgs(
        name=base, tags=tags("host"), stack=config.stack, region=config.region,
        subnet_id=network.subnet_ids[0], availability_zone=network.availability_zones[0],
        security_group_id=security.host_security_group_id,
        instance_type=config.instance_type, architecture=config.instance_shape.architecture,
        public_key=config.operator_public_key, data_volume_id=data.volume_id,
        uploads_bucket_arn=buckets.uploads.arn, backups_bucket_arn=buckets.backups.arn, production=config.is_prod,
    ),
)  # fmt: skip
hosts = {"app": config.app_host, "cms": config.cms_host}
# Grafana is served by Traefik on the app entrypoint, behind its own login.
aliases = {"app": (config.grafana_host,), "cms": ()}
alb = LoadBalancer(
    "alb",
    LoadBalancerArgs(
        name=base, tags=tags("load-balancer"), vpc_id=network.vpc_id,
        subnet_ids=network.subnet_ids, security_group_id=security.alb_security_group_id,
        routes=[Route(key, hosts[key], port, path, priority, aliases[key]) for key, port, path, priority in ROUTES],
        target_instance_id=host.instance_id, access_logs_bucket=buckets.logs.name,
        route53_zone_id=config.route53_zone_id, deletion_protection=config.is_prod,
    ),
)  # fmt: skip
monitoring = Monitoring(
    "monitoring",
    MonitoringArgs(
        name=base, tags=tags("monitoring"), stack=config.stack, region=config.region,
        alert_emails=config.alert_emails, services=SERVICES, log_retention_days=config.log_retention_days,
        instance_id=host.instance_id, load_balancer_arn_suffix=alb.arn_suffix,
        target_group_arn_suffixes=alb.target_group_arn_suffixes, health_check_host=config.app_host,
        health_check_path="/api/health", host_role_name=host.role_name,
    ),
)  # fmt: skip

containers = ContainerStack(
    "containers",
    ContainersArgs(
        config=config, instance_id=host.instance_id, public_ip=host.public_ip, region=config.region,
        ssh_user=host.ssh_user, ssh_mode=config.ssh_mode, ready_marker=host.ready_marker,
        preview=pulumi.runtime.is_dry_run(),  # a preview needs no SSH path (README: previews)
        log_groups={s: monitoring.log_groups[s].name for s in service_names(config)},
        uploads_bucket=buckets.uploads.name, backups_bucket=buckets.backups.name,
        postgres_settings=stack_postgres_settings(config),  # WAL archiving to the backups bucket
        # The host and its data volume, and the log groups with the host's right to write to them.
        host_ready=[host, data, *monitoring.ready],
        # Prometheus' jobs from every spec's metrics; Alertmanager publishes to the alert topic.
        files_from_specs=functools.partial(monitoring_files, config, alert_topic_arn=monitoring.alert_topic_arn),
    ),
)  # fmt: skip

pulumi.export("albDnsName", alb.dns_name)
pulumi.export("albZoneId", alb.zone_id)
pulumi.export("appUrl", f"https://{config.app_host}")
pulumi.export("cmsUrl", f"https://{config.cms_host}")
pulumi.export("hostInstanceId", host.instance_id)
pulumi.export("hostPublicIp", host.public_ip)
pulumi.export("uploadsBucket", buckets.uploads.name)
pulumi.export("backupsBucket", buckets.backups.name)
pulumi.export("imageRepositories", containers.repositories)
pulumi.export("alertTopicArn", monitoring.alert_topic_arn)
if alb.validation_records is not None:
    pulumi.export("certificateValidationRecords", alb.validation_records)
