"""Prod's design choices that a cheaper stack may drop: its traffic comes through the load
balancer, and its host runs around the clock.

The program's `edge: host` (Traefik terminating TLS on the host's Elastic IP, no ALB) and an
office-hours `schedule` (EventBridge Scheduler stopping the host) exist for staging, where they
bring the bill under its budget. These rules keep them out of prod, whatever the settings file
says: they read the resources, not the settings.
"""

from __future__ import annotations

from pulumi_policy import ResourceValidationArgs, Severity, StackValidationArgs

from .base import ENVIRONMENT_SCHEMA, PROJECT_RULE, Report, Rule, get, is_prod, is_unknown, label, of_type

INSTANCE = "aws:ec2/instance:Instance"
LOAD_BALANCERS = ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")
SCHEDULE = "aws:scheduler/schedule:Schedule"
# EventBridge Scheduler's universal target for stopping instances; the EC2 API name in any letter case.
STOP_INSTANCES = "arn:aws:scheduler:::aws-sdk:ec2:stopinstances"


def _through_load_balancer(args: StackValidationArgs, report: Report) -> None:
    if not is_prod(args.get_config()) or of_type(args, *LOAD_BALANCERS):
        return
    for host in of_type(args, INSTANCE):
        report(
            f"{label(host)} takes traffic with no load balancer in front (edge: host) in prod; "
            "prod serves through the ALB (set edge: alb): a managed certificate, its health checks and alarms",
            host.urn,
        )


def _runs_always(args: ResourceValidationArgs, report: Report) -> None:
    target = get(args.props, "target", "arn")
    if not is_prod(args.get_config()) or is_unknown(target) or not isinstance(target, str):
        return
    if target.lower() == STOP_INSTANCES:
        report(
            f"{label(args)} stops EC2 instances on a schedule in prod; prod's host runs always "
            "(set schedule: always; office hours are for staging)"
        )


RULES = [
    Rule(
        name="prod-edge-through-load-balancer",
        description="In prod the host is reached through an application load balancer (edge: alb), never directly on its Elastic IP.",
        why="Prod's TLS, health checks and 5xx alarms are the ALB's; Traefik on the host (edge: host) is staging's cheaper stand-in.",
        severity=Severity.HIGH,
        check=_through_load_balancer,
        kind="stack",
        config={"environment": ENVIRONMENT_SCHEMA},
        references=(
            f"{PROJECT_RULE}the ALB in front of prod is this project's design decision (ARCHITECTURE.md), "
            "not a control of a framework",
        ),
    ),
    Rule(
        name="prod-host-runs-always",
        description="In prod no EventBridge Scheduler schedule stops EC2 instances (schedule: always).",
        why="The CRM takes sales at any hour; a scheduled stop is staging's way of saving instance hours.",
        severity=Severity.HIGH,
        check=_runs_always,
        resource_types=(SCHEDULE,),
        config={"environment": ENVIRONMENT_SCHEMA},
        references=(
            f"{PROJECT_RULE}prod's availability target (sales at any hour) is this project's, no framework "
            "control covers scheduled stops",
        ),
    ),
]
