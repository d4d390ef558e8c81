"""Quintas CRM on AWS: one stack (staging or prod) of the whole environment.

Internet -> ALB (TLS) -> target groups :3000 app, :8055 cms -> EC2 host (Docker)
  (edge `host`: Internet -> Elastic IP :443 -> Traefik (TLS, Let's Encrypt) on the host; no ALB)
  WAF on the ALB (prod); host: data volume at /srv/data; S3 uploads, backups (Object Lock,
  replicated in prod), logs; CloudWatch alarms -> SNS (KMS); VPC flow log of rejected traffic;
  stopped and started by EventBridge Scheduler outside office hours when `schedule` says so.
  containers on the host: Traefik -> frontend, directus -> postgres, redis; monitoring.

Read top to bottom: the AWS infrastructure (components/aws, which knows nothing of
containers), then the workload (components/workload): the catalogue of services,
built once, with the monitoring files rendered from it, deployed on the host.
Outputs are documented in the README ("Stack outputs").
"""

import pulumi

from components.aws.buckets import Buckets, BucketsArgs
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
from components.workload.catalogue import CatalogueInputs, catalogue
from components.workload.containers import ContainersArgs, ContainerStack, HostConnection
from components.workload.monitoring_config import monitoring_files
from components.workload.registry import repository_prefix
from components.workload.services import with_config_files

config = StackConfig.load()  # each Args.for_stack maps the settings onto one component

keys = Keys("keys", KeysArgs.for_stack(config))  # the telemetry key: log groups and the alert topic
network = Network("network", NetworkArgs.for_stack(config, keys.telemetry_key_arn))
security = SecurityGroups("security", SecurityGroupsArgs.for_stack(config, network))
buckets = Buckets("buckets", BucketsArgs.for_stack(config))
data = DataVolume("data", DataVolumeArgs.for_stack(config, network))
host = AppHost("host", AppHostArgs.for_stack(config, network, security, data, buckets, repository_prefix(config.stack)))
routes = [  # host name -> Traefik's entrypoint; Grafana is served on the app entrypoint, behind its own login
    Route("app", config.app_host, 3000, "/api/health", 10, aliases=(config.grafana_host,)),
    Route("cms", config.cms_host, 8055, "/server/ping", 20),
]
alb_args = LoadBalancerArgs.for_stack(config, network, security, host, buckets, routes)  # None: edge `host`
alb = LoadBalancer("alb", alb_args) if alb_args else None
if alb and config.waf != "off":
    Firewall("waf", FirewallArgs.for_stack(config, alb.arn, keys.telemetry_key_arn))
edge_args = HostEdgeArgs.for_stack(config, host)  # edge `host`: Traefik's certificates by DNS-01
edge = HostEdge("edge", edge_args) if edge_args else None

# The workload: image repositories and secrets first, then the catalogue that refers to them.
containers = ContainerStack("containers", ContainersArgs.for_stack(config))
services = catalogue(config, CatalogueInputs.for_stack(config, buckets, containers.repositories, containers.secrets))
names = [s.name for s in services]  # one CloudWatch log group per container
monitoring_args = MonitoringArgs.for_stack(config, host, alb, names, routes[0], kms_key_arns=keys.telemetry_key_arns)
monitoring = Monitoring("monitoring", monitoring_args)
schedule_args = HostScheduleArgs.for_stack(config, host, monitoring)  # None: the host runs always
schedule = HostSchedule("schedule", schedule_args) if schedule_args else None
# Prometheus' jobs from every spec's metrics; Alertmanager publishes to the alert topic.
services = with_config_files(services, monitoring_files(config, services, monitoring.alert_topic_arn))
# After the host, its volume, the log groups and the right to write them; a preview needs no SSH path.
connection = HostConnection.to(host, config.ssh_mode, [data, *monitoring.ready], pulumi.runtime.is_dry_run())
containers.deploy(services, connection, log_groups={name: group.name for name, group in monitoring.log_groups.items()})

if alb is not None:  # without them the DNS cutover points A records at hostPublicIp
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
if alb is not None and alb.validation_records is not None:
    pulumi.export("certificateValidationRecords", alb.validation_records)
