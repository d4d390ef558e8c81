"""Quintas CRM on AWS: one stack (staging or prod) of the whole environment; outputs in docs/settings.md.

Internet -> ALB (TLS; WAF in prod) -> :3000 app, :8055 cms -> single-host: EC2 host (Docker: Traefik -> frontend,
  directus -> postgres, redis; edge `host`: Traefik on the Elastic IP, no ALB; `schedule`: stopped off hours)
  or ecs: Fargate frontend, directus in two zones -> RDS PostgreSQL, ElastiCache Redis. Both: S3 uploads,
  backups (Object Lock, replicated in prod), logs, VPC flow log; CloudWatch alarms -> SNS (KMS).
"""

import pulumi

from components.aws.buckets import Buckets, BucketsArgs
from components.aws.cache import Cache, CacheArgs
from components.aws.database import Database, DatabaseArgs
from components.aws.ecs import FargateServicesArgs
from components.aws.ecs_tasks import bucket_object_access
from components.aws.edge import HostEdge, HostEdgeArgs
from components.aws.host import AppHost, AppHostArgs
from components.aws.keys import Keys, KeysArgs
from components.aws.load_balancer import LoadBalancer, LoadBalancerArgs, Route
from components.aws.monitoring import Monitoring, MonitoringArgs
from components.aws.network import Network, NetworkArgs
from components.aws.schedule import HostSchedule, HostScheduleArgs
from components.aws.security import SecurityGroups, SecurityGroupsArgs
from components.aws.volume import DataVolume, DataVolumeArgs
from components.aws.waf import Firewall, FirewallArgs
from components.config import StackConfig
from components.workload.catalogue import CatalogueInputs, Endpoints, catalogue
from components.workload.containers import ContainersArgs, ContainerStack, HostConnection
from components.workload.ecs_services import EcsWorkload, EcsWorkloadArgs, rds_parameters
from components.workload.monitoring_config import monitoring_files
from components.workload.registry import repository_prefix
from components.workload.services import with_config_files

config = StackConfig.load()  # each Args.for_stack maps the settings onto one component

keys = Keys("keys", KeysArgs.for_stack(config))  # the telemetry key: log groups and the alert topic
network = Network("network", NetworkArgs.for_stack(config, keys.telemetry_key_arn))
security = SecurityGroups("security", SecurityGroupsArgs.for_stack(config, network))
buckets = Buckets("buckets", BucketsArgs.for_stack(config))
prefix = repository_prefix(config.stack)  # the names of the stack's image repositories
data = DataVolume("data", DataVolumeArgs.for_stack(config, network)) if config.topology == "single-host" else None
host = AppHost("host", AppHostArgs.for_stack(config, network, security, data, buckets, prefix)) if data else None
routes = [  # host name -> the services' port; Grafana (host only) is served on the app port, behind its own login
    Route("app", config.app_host, 3000, "/api/health", 10, aliases=(config.grafana_host,) if host else ()),
    Route("cms", config.cms_host, 8055, "/server/ping", 20),
]
alb_args = LoadBalancerArgs.for_stack(config, network, security, host, buckets, routes)  # None: edge `host`
alb = LoadBalancer("alb", alb_args) if alb_args else None
if alb and config.waf != "off":
    Firewall("waf", FirewallArgs.for_stack(config, alb.arn, keys.telemetry_key_arn))
edge = HostEdge("edge", edge_args) if host and (edge_args := HostEdgeArgs.for_stack(config, host)) else None

if host and data:  # on the host: image repositories and secrets first, then the catalogue that refers to them
    workload = ContainerStack("containers", ContainersArgs.for_stack(config))
    services = catalogue(config, CatalogueInputs.for_stack(config, buckets, workload.repositories, workload.secrets))
    names = [s.name for s in services]  # one CloudWatch log group per container
    monitoring = Monitoring("monitoring", MonitoringArgs.for_stack(config, host, alb, names, routes[0], keys))
    schedule_args = HostScheduleArgs.for_stack(config, host, monitoring)  # None: the host runs always
    schedule = HostSchedule("schedule", schedule_args) if schedule_args else None
    services = with_config_files(services, monitoring_files(config, services, monitoring.alert_topic_arn))
    # After the host, its volume, the log groups and the right to write them; a preview needs no SSH path.
    connection = HostConnection.to(host, config.ssh_mode, [data, *monitoring.ready], pulumi.runtime.is_dry_run())
    workload.deploy(services, connection, log_groups={n: g.name for n, g in monitoring.log_groups.items()})
    pulumi.export("hostInstanceId", host.instance_id)
    pulumi.export("hostPublicIp", host.public_ip)
else:  # on ECS: the catalogue's stateless services on Fargate, its database on RDS, its cache on ElastiCache
    workload = EcsWorkload("ecs", EcsWorkloadArgs.for_stack(config))
    monitoring = Monitoring("monitoring", MonitoringArgs.for_stack(config, None, alb, workload.names, routes[0], keys))
    password, parameters = workload.database_password, rds_parameters(config)
    database = Database("database", DatabaseArgs.for_stack(config, network, security, monitoring, password, parameters))
    cache = Cache("cache", CacheArgs.for_stack(config, network, security, monitoring))
    endpoints = Endpoints(database.address, cache.url, database_tls=True)
    inputs = CatalogueInputs.for_stack(config, buckets, workload.repositories, workload.secrets, endpoints)
    services = catalogue(config, inputs)
    placement = FargateServicesArgs.for_stack(config, network, security, alb, monitoring, prefix)
    workload.deploy(services, placement, permissions={"directus": bucket_object_access(buckets.uploads.arn)})
    pulumi.export("databaseAddress", database.address)

if alb is not None:  # without them the DNS cutover points A records at hostPublicIp
    pulumi.export("albDnsName", alb.dns_name)
    pulumi.export("albZoneId", alb.zone_id)
pulumi.export("appUrl", f"https://{config.app_host}")
pulumi.export("cmsUrl", f"https://{config.cms_host}")
pulumi.export("uploadsBucket", buckets.uploads.name)
pulumi.export("backupsBucket", buckets.backups.name)
pulumi.export("imageRepositories", workload.repositories)
pulumi.export("alertTopicArn", monitoring.alert_topic_arn)
if alb is not None and alb.validation_records is not None:
    pulumi.export("certificateValidationRecords", alb.validation_records)
