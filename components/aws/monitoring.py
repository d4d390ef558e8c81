"""Monitoring: the alert topic and its e-mail subscribers, CloudWatch alarms, an external health
check, and one CloudWatch log group per container service.

Alarms (each notifies the topic on ALARM and OK):
- EC2 system status check failed: the recover action moves the host to healthy hardware.
- EC2 instance status check failed: the reboot action.
- ALB unhealthy targets > 0 for 2 minutes, one alarm per target group.
- ALB 5xx rate (load balancer and targets) above a percentage of requests.
  With edge `host` there is no ALB and neither alarm: their host-side equivalents are
  Prometheus' (SiteDown on the public and internal probes of each route, through
  Traefik, and EdgeErrorRate on Traefik's HTTPS entrypoint; Alertmanager publishes to
  the same topic), and the Route53 check stays.
- Route53 health check of the public app URL: the site being down is seen from
  outside AWS' network, even when the host and the ALB look healthy. Route53
  publishes its metrics in us-east-1 only, so that alarm (and a topic for it)
  live there whatever the stack's region.

The alert topic and every log group are encrypted with the stack's telemetry key
(components/aws/keys.py: container logs can carry personal data, so all of them are).
The component grants the host role what it needs of these resources: writing to
the log groups (awslogs driver) and publishing to the topic with its key (Alertmanager).
The ready-made Prometheus/Alertmanager/Grafana wiring lives with the containers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.aws.host import AppHost
from components.aws.keys import HEALTH_CHECK_REGION, Keys
from components.aws.load_balancer import LoadBalancer, Route
from components.config import StackConfig


def log_group_name(stack: str, service: str) -> str:
    return f"/quintas-crm/{stack}/{service}"


@dataclass
class MonitoringArgs:
    name: str
    """Prefix of physical names, e.g. quintas-crm-prod."""
    tags: Mapping[str, str]
    """Tags of the topics, alarms, health check and log groups."""
    stack: str
    """Stack name: part of every log group's name and of the alert topic's display name."""
    region: str
    """AWS region of the host, its alarms and the alert topic (the health check's alarm is in us-east-1)."""
    alert_emails: Sequence[str]
    """Addresses subscribed to the alert topic; each must confirm the subscription e-mail."""
    services: Sequence[str]
    """Container service names, unique: one CloudWatch log group each."""
    log_retention_days: int
    """Days CloudWatch keeps container logs (one of the values CloudWatch accepts)."""
    instance_id: pulumi.Input[str] | None
    """The EC2 host: its status-check alarms recover or reboot it; None without a host (`ecs`)."""
    load_balancer_arn_suffix: pulumi.Input[str] | None
    """The ALB's ARN suffix, the dimension of its CloudWatch metrics; None: no ALB (edge `host`), no ALB alarms."""
    target_group_arn_suffixes: Mapping[str, pulumi.Input[str]]
    """Route key -> target group ARN suffix: one unhealthy-target alarm each (none without an ALB)."""
    health_check_host: str
    """Public host name Route53 checks over HTTPS from outside AWS, e.g. app.example.com."""
    health_check_path: str
    """Path of that check, e.g. /api/health."""
    host_role_name: pulumi.Input[str] | None
    """The host's IAM role: granted writing to the log groups and publishing to the topic; None without
    a host (each ECS service's execution role is granted its own log group)."""
    error_rate_percent: float = 5.0
    """Alarm when more than this percentage of the ALB's requests are answered 5xx over 5 minutes."""
    host_stops_on_schedule: bool = False
    """The host is stopped off hours (a `schedule`): a stopped instance publishes no status checks, and its
    alarms keep their state through the gap instead of going to INSUFFICIENT_DATA and back to OK (an e-mail
    every morning). Default False: missing data is CloudWatch's default `missing`."""
    kms_key_arn: pulumi.Input[str] | None = None
    """Customer managed key of the alert topic and the log groups (Keys.telemetry_key_arn); None: the
    topic is unencrypted and the log groups use CloudWatch's default encryption."""
    health_check_kms_key_arn: pulumi.Input[str] | None = None
    """The key of the us-east-1 alert topic of a stack elsewhere (a key is regional); None: unencrypted."""

    @classmethod
    def for_stack(
        cls,
        config: StackConfig,
        host: AppHost | None,
        alb: LoadBalancer | None,
        services: Sequence[str],
        health_check: Route,
        keys: Keys | None = None,
    ) -> MonitoringArgs:
        """Alarms on the host and the ALB, a log group per service, Route53 checking `health_check` from outside."""
        return cls(
            name=config.name_prefix,
            tags=config.tags_for("monitoring"),
            stack=config.stack,
            region=config.region,
            alert_emails=config.alert_emails,
            services=services,
            log_retention_days=config.log_retention_days,
            instance_id=host.instance_id if host else None,
            load_balancer_arn_suffix=alb.arn_suffix if alb else None,
            target_group_arn_suffixes=alb.target_group_arn_suffixes if alb else {},
            health_check_host=health_check.host,
            health_check_path=health_check.health_path,
            host_role_name=host.role_name if host else None,
            host_stops_on_schedule=config.schedule is not None,
            kms_key_arn=keys.telemetry_key_arns.get(config.region) if keys else None,
            health_check_kms_key_arn=keys.telemetry_key_arns.get(HEALTH_CHECK_REGION) if keys else None,
        )


class Monitoring(pulumi.ComponentResource):
    alert_topic_arn: pulumi.Output[str]
    log_group_names: dict[str, str]
    """service -> log group name; depend on `log_groups` (or this component) before writing to one."""
    log_groups: dict[str, aws.cloudwatch.LogGroup]
    health_check_id: pulumi.Output[str]
    ready: list[pulumi.Resource]
    log_kms_key_arn: pulumi.Input[str] | None
    """The key the log groups are encrypted with: a log group made elsewhere (RDS's) uses it too."""
    """The log groups and the host role's grant on them: what a container with the awslogs driver must wait for."""

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("quintas:monitoring:Monitoring", name, None, opts)
        self._args = args
        if len(set(args.services)) != len(args.services):
            raise ValueError(f"service names must be unique, got {list(args.services)}")
        child = pulumi.ResourceOptions(parent=self)
        topic = self._topic("alerts", None)
        self.log_group_names = {s: log_group_name(args.stack, s) for s in args.services}
        self.log_groups = {
            service: aws.cloudwatch.LogGroup(
                service,
                name=group,
                retention_in_days=args.log_retention_days,
                kms_key_id=args.kms_key_arn,
                tags={**args.tags, "service": service},
                opts=child,
            )
            for service, group in self.log_group_names.items()
        }
        self.ready = list(self.log_groups.values())
        if args.host_role_name is not None and args.instance_id is not None:
            grant = aws.iam.RolePolicy(
                "host-telemetry",
                role=args.host_role_name,
                policy=pulumi.Output.all(args.kms_key_arn, topic.arn, *[g.arn for g in self.log_groups.values()]).apply(
                    lambda arns: json.dumps(telemetry_permissions(arns[1], arns[2:], arns[0]))
                ),
                opts=child,
            )
            self.ready.append(grant)
            self._host_alarms(topic.arn, args.instance_id)
        if args.load_balancer_arn_suffix is not None:
            self._load_balancer_alarms(topic.arn, args.load_balancer_arn_suffix)
        self.health_check_id = self._health_check(topic)
        self.alert_topic_arn = topic.arn
        self.log_kms_key_arn = args.kms_key_arn
        self.register_outputs(
            {"alertTopicArn": topic.arn, "logGroups": self.log_group_names, "healthCheckId": self.health_check_id}
        )

    def _topic(self, name: str, region: str | None) -> aws.sns.Topic:
        # The customer managed key, not the AWS managed SNS key, which CloudWatch alarms cannot use.
        # A key is regional: the us-east-1 topic of a stack elsewhere has its own.
        topic = aws.sns.Topic(
            name,
            name=f"{self._args.name}-{name}",
            display_name=f"Quintas CRM {self._args.stack} alerts",
            kms_master_key_id=self._args.kms_key_arn if region is None else self._args.health_check_kms_key_arn,
            region=region,
            tags=dict(self._args.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        for index, email in enumerate(self._args.alert_emails):
            aws.sns.TopicSubscription(
                f"{name}-email-{index}",
                topic=topic.arn,
                protocol="email",
                endpoint=email,
                region=region,
                opts=pulumi.ResourceOptions(parent=self),
            )
        return topic

    def _alarm(
        self, name: str, description: str, topic_arn: pulumi.Input[str], **kwargs: Any
    ) -> aws.cloudwatch.MetricAlarm:
        extra_actions = kwargs.pop("extra_actions", [])
        return aws.cloudwatch.MetricAlarm(
            name,
            name=f"{self._args.name}-{name}",
            alarm_description=description,
            alarm_actions=[*extra_actions, topic_arn],
            ok_actions=[topic_arn],
            tags=dict(self._args.tags),
            opts=pulumi.ResourceOptions(parent=self),
            **kwargs,
        )

    def _host_alarms(self, topic_arn: pulumi.Output[str], instance_id: pulumi.Input[str]) -> None:
        a = self._args
        ec2 = {
            "namespace": "AWS/EC2",
            "dimensions": {"InstanceId": instance_id},
            "statistic": "Maximum",
            "period": 60,
        }
        if a.host_stops_on_schedule:
            ec2["treat_missing_data"] = "ignore"
        self._alarm(
            "host-system-check", "EC2 system status check failed: recovering the host onto healthy hardware", topic_arn,
            metric_name="StatusCheckFailed_System", comparison_operator="GreaterThanThreshold", threshold=0,
            evaluation_periods=2, extra_actions=[f"arn:aws:automate:{a.region}:ec2:recover"], **ec2,
        )  # fmt: skip
        self._alarm(
            "host-instance-check", "EC2 instance status check failed: rebooting the host", topic_arn,
            metric_name="StatusCheckFailed_Instance", comparison_operator="GreaterThanThreshold", threshold=0,
            evaluation_periods=3, extra_actions=[f"arn:aws:automate:{a.region}:ec2:reboot"], **ec2,
        )  # fmt: skip

    def _load_balancer_alarms(self, topic_arn: pulumi.Output[str], load_balancer: pulumi.Input[str]) -> None:
        a = self._args
        for key, suffix in a.target_group_arn_suffixes.items():
            self._alarm(
                f"{key}-unhealthy", f"{key} target unhealthy behind the load balancer for 2 minutes", topic_arn,
                namespace="AWS/ApplicationELB", metric_name="UnHealthyHostCount",
                dimensions={"LoadBalancer": load_balancer, "TargetGroup": suffix},
                statistic="Maximum", period=60, evaluation_periods=2, threshold=0,
                comparison_operator="GreaterThanThreshold", treat_missing_data="notBreaching",
            )  # fmt: skip

        def count(metric: str) -> dict[str, Any]:
            return {
                "id": metric.lower().replace("_", ""),
                "metric": {
                    "namespace": "AWS/ApplicationELB",
                    "metric_name": metric,
                    "dimensions": {"LoadBalancer": load_balancer},
                    "stat": "Sum",
                    "period": 300,
                },
                "return_data": False,
            }

        queries = [count("HTTPCode_ELB_5XX_Count"), count("HTTPCode_Target_5XX_Count"), count("RequestCount")]
        expression = f"100 * (FILL({queries[0]['id']}, 0) + FILL({queries[1]['id']}, 0)) / {queries[2]['id']}"
        self._alarm(
            "alb-5xx-rate", f"more than {a.error_rate_percent}% of requests answered 5xx over 5 minutes", topic_arn,
            metric_queries=[*queries, {"id": "rate", "expression": expression, "label": "5xx %", "return_data": True}],
            threshold=a.error_rate_percent, evaluation_periods=1, comparison_operator="GreaterThanThreshold",
            treat_missing_data="notBreaching",
        )  # fmt: skip

    def _health_check(self, topic: aws.sns.Topic) -> pulumi.Output[str]:
        a = self._args
        check = aws.route53.HealthCheck(
            "app",
            type="HTTPS",
            fqdn=a.health_check_host,
            port=443,
            resource_path=a.health_check_path,
            enable_sni=True,
            request_interval=30,
            failure_threshold=3,
            reference_name=f"{a.stack}-app"[:28],
            tags={**a.tags, "Name": f"{a.name}-app"},
            opts=pulumi.ResourceOptions(parent=self),
        )
        # The alarm must sit where Route53 publishes its metrics, and notify a topic in that region.
        alarm_topic = topic if a.region == HEALTH_CHECK_REGION else self._topic("alerts-us-east-1", HEALTH_CHECK_REGION)
        self._alarm(
            "app-health-check", f"https://{a.health_check_host}{a.health_check_path} failing from outside AWS",
            alarm_topic.arn, namespace="AWS/Route53", metric_name="HealthCheckStatus",
            dimensions={"HealthCheckId": check.id}, statistic="Minimum", period=60, evaluation_periods=2,
            threshold=1, comparison_operator="LessThanThreshold", treat_missing_data="breaching",
            region=HEALTH_CHECK_REGION,
        )  # fmt: skip
        return check.id


def telemetry_permissions(topic_arn: str, log_group_arns: Sequence[str], key_arn: str | None = None) -> dict[str, Any]:
    """What the host role may do with Monitoring's resources: its own log groups and topic only."""
    # Publishing to an encrypted topic: SNS asks KMS for a data key on the publisher's behalf.
    key = {
        "Sid": "PublishAlertsEncrypted",
        "Effect": "Allow",
        "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
        "Resource": key_arn,
        "Condition": {"StringLike": {"kms:ViaService": "sns.*.amazonaws.com"}},
    }
    return {
        "Version": "2012-10-17",
        "Statement": [
            *([key] if key_arn else []),
            {
                # The awslogs driver creates one stream per container and writes to it.
                "Sid": "ContainerLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                "Resource": [r for arn in log_group_arns for r in (arn, f"{arn}:log-stream:*")],
            },
            {
                # Alertmanager's sns_configs sign with the instance role.
                "Sid": "PublishAlerts",
                "Effect": "Allow",
                "Action": ["sns:Publish"],
                "Resource": topic_arn,
            },
        ],
    }
