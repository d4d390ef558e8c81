"""Quintas CRM on AWS: one stack (staging or prod) of the whole environment.

Internet -> ALB (TLS) -> target groups :3000 app, :8055 cms -> EC2 host (Docker)
  host: data volume at /srv/data; S3 uploads, backups, logs; CloudWatch alarms -> SNS.
  containers on the host: Traefik -> frontend, directus -> postgres, redis; monitoring.

Read top to bottom: the AWS infrastructure (components/aws, which knows nothing of
containers), then the workload (components/workload): the catalogue of services,
built once, with the monitoring files rendered from it, deployed on the host.
Outputs are documented in the README ("Stack outputs").
"""

import pulumi

from components.aws.buckets import Buckets, BucketsArgs
from components.aws.host import AppHost, AppHostArgs
from components.aws.load_balancer import LoadBalancer, LoadBalancerArgs, Route
from components.aws.monitoring import Monitoring, MonitoringArgs
from components.aws.network import Network, NetworkArgs
from components.aws.security import SecurityGroups, SecurityGroupsArgs
from components.aws.volume import DataVolume, DataVolumeArgs, snapshot_time_utc
from components.backups import stack_postgres_settings, stack_prefixes
from components.config import StackConfig
from components.workload.catalogue import CatalogueInputs, catalogue
from components.workload.containers import ContainersArgs, ContainerStack, HostConnection
from components.workload.monitoring_config import monitoring_files
from components.workload.registry import repository_prefix
from components.workload.services import with_config_files

config = StackConfig.load()
base, tags = f"quintas-crm-{config.stack}", config.tags_for  # physical name prefix, tags per component
ROUTES = (("app", 3000, "/api/health", 10), ("cms", 8055, "/server/ping", 20))

network = Network("network", NetworkArgs(tags=tags("network"), name=base, cidr_block=config.vpc_cidr))
security = SecurityGroups(
    "security",
    SecurityGroupsArgs(
        vpc_id=network.vpc_id,
        name=base,
        tags=tags("security"),
        ssh_mode=config.ssh_mode,
        admin_cidrs=config.admin_cidrs,
    ),
)
buckets = Buckets(
    "buckets",
    BucketsArgs(
        name=base,
        tags=tags("buckets"),
        protect_data=config.is_prod,
        retain_data_on_delete=config.is_prod,
        force_destroy_logs=not config.is_prod,  # staging: a teardown deletes the access logs instead of stopping
        noncurrent_version_expiration_days=config.noncurrent_version_expiration_days,
        access_log_expiration_days=config.access_log_expiration_days,
        replica_region=config.replica_region,
    ),
)
data = DataVolume(
    "data",
    DataVolumeArgs(
        name=base,
        tags=tags("volume"),
        availability_zone=network.availability_zones[0],
        size_gb=config.data_volume_size_gb,
        region=config.region,
        protect=config.is_prod,
        retain_on_delete=config.is_prod,
        final_snapshot=config.is_prod,
        snapshot_retention_days=config.snapshot_retention_days,
        snapshot_time_utc=snapshot_time_utc(config.backup_time, config.time_zone),
    ),
)
host = AppHost(
    "host",
    AppHostArgs(
        name=base,
        tags=tags("host"),
        region=config.region,
        subnet_id=network.subnet_ids[0],
        availability_zone=network.availability_zones[0],
        security_group_id=security.host_security_group_id,
        instance_type=config.instance_type,
        architecture=config.instance_shape.architecture,
        public_key=config.operator_public_key,
        data_volume_id=data.volume_id,
        uploads_bucket_arn=buckets.uploads.arn,
        backups_bucket_arn=buckets.backups.arn,
        backup_prefixes=stack_prefixes(config.stack),
        image_repository_prefix=repository_prefix(config.stack),
        termination_protection=config.is_prod,
        detailed_monitoring=config.is_prod,
    ),
)
# Grafana is served by Traefik on the app entrypoint, behind its own login.
hosts = {"app": (config.app_host, config.grafana_host), "cms": (config.cms_host,)}
alb = LoadBalancer(
    "alb",
    LoadBalancerArgs(
        name=base,
        tags=tags("load-balancer"),
        vpc_id=network.vpc_id,
        subnet_ids=network.subnet_ids,
        security_group_id=security.alb_security_group_id,
        routes=[Route(key, hosts[key][0], port, path, rank, hosts[key][1:]) for key, port, path, rank in ROUTES],
        target_instance_id=host.instance_id,
        access_logs_bucket=buckets.logs.name,
        route53_zone_id=config.route53_zone_id,
        deletion_protection=config.is_prod,
    ),
)

# The workload: image repositories and secrets first, then the catalogue that refers to them.
containers = ContainerStack(
    "containers",
    ContainersArgs(
        stack=config.stack,
        region=config.region,
        architecture=config.instance_shape.architecture,
        tags=tags("registry"),
        immutable_image_tags=config.is_prod,
    ),
)
services = catalogue(
    config,
    CatalogueInputs(
        repositories=containers.repositories,
        uploads_bucket=buckets.uploads.name,
        backups_bucket=buckets.backups.name,
        secrets=containers.secrets,
        postgres_settings=stack_postgres_settings(config),  # WAL archiving to the backups bucket
    ),
)
monitoring = Monitoring(
    "monitoring",
    MonitoringArgs(
        name=base,
        tags=tags("monitoring"),
        stack=config.stack,
        region=config.region,
        alert_emails=config.alert_emails,
        services=[s.name for s in services],  # one CloudWatch log group per container
        log_retention_days=config.log_retention_days,
        instance_id=host.instance_id,
        load_balancer_arn_suffix=alb.arn_suffix,
        target_group_arn_suffixes=alb.target_group_arn_suffixes,
        health_check_host=config.app_host,
        health_check_path="/api/health",
        host_role_name=host.role_name,
    ),
)
# Prometheus' jobs from every spec's metrics; Alertmanager publishes to the alert topic.
services = with_config_files(services, monitoring_files(config, services, monitoring.alert_topic_arn))
containers.deploy(
    services,
    HostConnection(
        instance_id=host.instance_id,
        public_ip=host.public_ip,
        user=host.ssh_user,
        mode=config.ssh_mode,
        ready_marker=host.ready_marker,
        ready=[host, data, *monitoring.ready],  # the host, its volume, the log groups and the right to write them
        preview=pulumi.runtime.is_dry_run(),  # a preview needs no SSH path (README: previews)
    ),
    log_groups={name: group.name for name, group in monitoring.log_groups.items()},
)

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
