"""HostSchedule: the host stopped outside office hours by EventBridge Scheduler, with its own role.

Four schedules, all cron expressions evaluated in the stack's time zone (so a DST
change moves nothing in local time; components/office_hours.py):
- `host-stop` / `host-start`: EC2 StopInstances / StartInstances of the one host.
- `checks-pause` (a few minutes before the stop) / `checks-resume` (once the host has
  warmed up after the start): Route53 UpdateHealthCheck sets the site's external health
  check Disabled, which Route53 reports as healthy, so its alarm never pages for a
  scheduled stop; re-enabled, a site that did not come back turns the alarm to ALARM
  and pages as on any other day. (Muting the alarm's actions instead would leave an
  alarm that went to ALARM overnight silent in the morning; composite alarms with an
  actions suppressor cost $0.50 a month each and still need a metric that says "stopped".)
  The status-check alarms need no muting: a stopped instance publishes no status checks
  and those alarms ignore missing data in a scheduled stack (components/aws/monitoring.py).
  Prometheus and Alertmanager run on the host and stop with it.

The role may do exactly that: ec2:StartInstances and ec2:StopInstances on this
instance's ARN, route53:UpdateHealthCheck on this health check's ARN, and, when the
host's volumes are encrypted with a customer managed KMS key, kms:CreateGrant on those
keys for EC2 only (starting an instance with such a volume creates a grant for it; the
AWS managed `aws/ebs` key the stack uses today needs none).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.aws.host import AppHost
from components.aws.iam import policy_document, service_role
from components.aws.monitoring import Monitoring
from components.config import StackConfig
from components.office_hours import OfficeHours

# EventBridge Scheduler's universal targets: any AWS API action by service and action name.
SDK_TARGET = "arn:aws:scheduler:::aws-sdk:{service}:{action}"


@dataclass
class HostScheduleArgs:
    name: str
    """Prefix of physical names, e.g. quintas-crm-staging."""
    tags: Mapping[str, str]
    """Tags of the role (EventBridge Scheduler's schedules take none)."""
    region: str
    """AWS region of the host: part of its ARN."""
    hours: OfficeHours
    """When the host runs; its cron expressions and time zone."""
    instance_id: pulumi.Input[str]
    """The host stopped and started."""
    health_check_id: pulumi.Input[str]
    """The Route53 health check of the site, paused while the host is stopped."""
    volume_kms_key_arns: Sequence[pulumi.Input[str]] = field(default_factory=tuple)
    """Customer managed KMS keys of the host's EBS volumes: the role may create grants on them for EC2.
    Default none: the volumes use the AWS managed key, and starting the host needs no grant."""

    @classmethod
    def for_stack(cls, config: StackConfig, host: AppHost, monitoring: Monitoring) -> HostScheduleArgs | None:
        """The stack's schedule, or None when the host runs always (no resources at all)."""
        if config.schedule is None:
            return None
        return cls(
            name=config.name_prefix,
            tags=config.tags_for("schedule"),
            region=config.region,
            hours=config.schedule,
            instance_id=host.instance_id,
            health_check_id=monitoring.health_check_id,
        )


class HostSchedule(pulumi.ComponentResource):
    role_arn: pulumi.Output[str]

    def __init__(self, name: str, args: HostScheduleArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("quintas:schedule:HostSchedule", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        account = aws.get_caller_identity(opts=pulumi.InvokeOptions(parent=self)).account_id
        role = service_role(
            "scheduler",
            name=f"{args.name}-scheduler",
            service="scheduler.amazonaws.com",
            description="EventBridge Scheduler: stops and starts the Quintas CRM host off hours",
            tags=args.tags,
            parent=self,
        )
        grant = aws.iam.RolePolicy(
            "scheduler",
            role=role.id,
            policy=pulumi.Output.all(args.instance_id, args.health_check_id, *args.volume_kms_key_arns).apply(
                lambda ids: policy_document(schedule_permissions(args.region, account, ids[0], ids[1], ids[2:]))
            ),
            opts=child,
        )
        hours = args.hours
        instance = pulumi.Output.from_input(args.instance_id).apply(lambda i: json.dumps({"InstanceIds": [i]}))
        check = pulumi.Output.from_input(args.health_check_id)
        for key, cron, action, payload in (
            ("checks-pause", hours.pause_checks_cron, "route53:updateHealthCheck", _health_check(check, True)),
            ("host-stop", hours.stop_cron, "ec2:stopInstances", instance),
            ("host-start", hours.start_cron, "ec2:startInstances", instance),
            ("checks-resume", hours.resume_checks_cron, "route53:updateHealthCheck", _health_check(check, False)),
        ):
            self._schedule(key, args, cron, action, payload, role.arn, grant)
        self.role_arn = role.arn
        self.register_outputs({"roleArn": role.arn})

    def _schedule(
        self,
        key: str,
        args: HostScheduleArgs,
        cron: str,
        action: str,
        payload: pulumi.Input[str],
        role_arn: pulumi.Input[str],
        grant: aws.iam.RolePolicy,
    ) -> None:
        service, api = action.split(":")
        aws.scheduler.Schedule(
            key,
            name=f"{args.name}-{key}",
            description=f"{action} {cron} {args.hours.time_zone}: the host runs {args.hours.days} "
            f"{args.hours.start}-{args.hours.stop}",
            schedule_expression=cron,
            schedule_expression_timezone=args.hours.time_zone,
            flexible_time_window={"mode": "OFF"},
            target={
                "arn": SDK_TARGET.format(service=service, action=api),
                "role_arn": role_arn,
                "input": payload,
                # A missed start or stop is retried for an hour, then dropped (the next day's runs anyway).
                "retry_policy": {"maximum_event_age_in_seconds": 3600, "maximum_retry_attempts": 5},
            },
            # The role must hold its permissions before the first run uses it.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[grant]),
        )


def _health_check(check: pulumi.Output[str], disabled: bool) -> pulumi.Output[str]:
    return check.apply(lambda i: json.dumps({"HealthCheckId": i, "Disabled": disabled}))


def schedule_permissions(
    region: str, account: str, instance_id: str, health_check_id: str, kms_key_arns: Sequence[str]
) -> list[dict[str, Any]]:
    """The scheduler role's statements: this host, this health check, and EC2's grants on its volume keys."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": "StopStartTheHost",
            "Effect": "Allow",
            "Action": ["ec2:StartInstances", "ec2:StopInstances"],
            "Resource": f"arn:aws:ec2:{region}:{account}:instance/{instance_id}",
        },
        {
            "Sid": "PauseTheSiteHealthCheck",
            "Effect": "Allow",
            "Action": ["route53:UpdateHealthCheck"],
            "Resource": f"arn:aws:route53:::healthcheck/{health_check_id}",
        },
    ]
    if kms_key_arns:
        statements.append(
            {
                # StartInstances with a volume under a customer managed key creates a grant for EC2.
                "Sid": "VolumeKeyGrantsForEc2",
                "Effect": "Allow",
                "Action": ["kms:CreateGrant"],
                "Resource": list(kms_key_arns),
                "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
            }
        )
    return statements
