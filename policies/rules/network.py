"""Security group rules: no sensitive port open to the world, every rule described, and
the host reachable only from the load balancer's security group (or, in a stack with no
load balancer, where Traefik on the host is the edge, on 80 and 443 only).

Rules come in three shapes (aws.vpc.SecurityGroupIngressRule/EgressRule, the older
aws.ec2.SecurityGroupRule, and inline blocks of aws.ec2.SecurityGroup); `sg_rules`
turns each into one `SgRule` so every check reads them the same way.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pulumi_policy import PolicyResource, ResourceValidationArgs, Severity, StackValidationArgs

from .base import Report, Rule, depends_on, get, is_unknown, items, label, number, of_type

INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
LEGACY_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
GROUP = "aws:ec2/securityGroup:SecurityGroup"
DEFAULT_GROUP = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
RULE_TYPES = (INGRESS, EGRESS, LEGACY_RULE, GROUP, DEFAULT_GROUP)
VPC = "aws:ec2/vpc:Vpc"
INSTANCE = "aws:ec2/instance:Instance"
LOAD_BALANCERS = ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")
PUBLIC_EDGE_PORTS = {80, 443}

SENSITIVE_PORTS = {
    22: "SSH",
    3389: "RDP",
    3000: "frontend",
    5432: "PostgreSQL",
    6379: "Redis",
    8055: "Directus",
    8080: "cAdvisor",
    9090: "Prometheus",
    9093: "Alertmanager",
    9100: "node-exporter",
}
ALL_PROTOCOLS = ("-1", "all")


@dataclass(frozen=True)
class SgRule:
    ingress: bool
    protocol: Any
    from_port: float | None
    to_port: float | None
    cidrs: tuple[Any, ...]
    description: Any
    where: str

    def covers(self, port: int) -> bool:
        if str(self.protocol).lower() in ALL_PROTOCOLS:
            return True
        if self.from_port is None or self.to_port is None:
            return False
        return self.from_port <= port <= self.to_port

    @property
    def world(self) -> list[str]:
        return [c for c in self.cidrs if isinstance(c, str) and _is_world(c)]


def _is_world(cidr: str) -> bool:
    try:
        return ipaddress.ip_network(cidr, strict=False).prefixlen == 0
    except ValueError:
        return False


def sg_rules(resource_type: str, props: Any, name: str) -> Iterator[SgRule]:
    if resource_type in (INGRESS, EGRESS):
        cidrs = tuple(c for c in (get(props, "cidrIpv4"), get(props, "cidrIpv6")) if c is not None)
        yield SgRule(
            resource_type == INGRESS,
            get(props, "ipProtocol"),
            number(get(props, "fromPort")),
            number(get(props, "toPort")),
            cidrs,
            get(props, "description"),
            name,
        )
    elif resource_type == LEGACY_RULE:
        cidrs = tuple(items(props, "cidrBlocks") + items(props, "ipv6CidrBlocks"))
        yield SgRule(
            get(props, "type") == "ingress",
            get(props, "protocol"),
            number(get(props, "fromPort")),
            number(get(props, "toPort")),
            cidrs,
            get(props, "description"),
            name,
        )
    elif resource_type in (GROUP, DEFAULT_GROUP):
        for direction in ("ingress", "egress"):
            for i, block in enumerate(items(props, direction)):
                if is_unknown(block):
                    continue
                yield SgRule(
                    direction == "ingress",
                    get(block, "protocol"),
                    number(get(block, "fromPort")),
                    number(get(block, "toPort")),
                    tuple(items(block, "cidrBlocks") + items(block, "ipv6CidrBlocks")),
                    get(block, "description"),
                    f"{name} {direction}[{i}]",
                )


def _world_ingress(args: ResourceValidationArgs, report: Report) -> None:
    ports = [int(p) for p in args.get_config()["ports"]]
    for rule in sg_rules(args.resource_type, args.props, args.name):
        if not rule.ingress or not rule.world:
            continue
        open_ports = [p for p in ports if rule.covers(p)]
        if open_ports:
            named = ", ".join(f"{p} ({SENSITIVE_PORTS.get(p, 'sensitive')})" for p in open_ports)
            report(f"security group rule {rule.where!r} opens {named} to {', '.join(rule.world)}")


def _described(args: ResourceValidationArgs, report: Report) -> None:
    if args.resource_type == GROUP:
        description = get(args.props, "description")
        if not is_unknown(description) and (not description or description == "Managed by Pulumi"):
            report(f"{label(args)} has no description of its purpose")
    for rule in sg_rules(args.resource_type, args.props, args.name):
        if not is_unknown(rule.description) and not (isinstance(rule.description, str) and rule.description.strip()):
            report(f"security group rule {rule.where!r} has no description saying why it exists")


def _groups_of(resources: list[PolicyResource], prop: str) -> set[str]:
    return {dep.urn for r in resources for dep in r.property_dependencies.get(prop, []) if dep.resource_type == GROUP}


def _host_only_from_alb(args: StackValidationArgs, report: Report) -> None:
    ssh_cidrs = set(args.get_config()["sshAllowedCidrs"])
    host_groups = _groups_of(of_type(args, INSTANCE), "vpcSecurityGroupIds") | _groups_of(
        of_type(args, INSTANCE), "securityGroups"
    )
    alb_groups = _groups_of(of_type(args, *LOAD_BALANCERS), "securityGroups")
    # No load balancer: the host is the edge (edge: host) and takes HTTPS and the redirect itself.
    edge_ports: set[int] = set() if of_type(args, *LOAD_BALANCERS) else PUBLIC_EDGE_PORTS
    by_urn = {r.urn: r for r in args.resources}
    for urn in sorted(host_groups):
        group = by_urn[urn]
        for rule_resource in of_type(args, INGRESS, LEGACY_RULE):
            if not any(dep.urn == urn for dep in rule_resource.property_dependencies.get("securityGroupId", [])):
                continue
            for rule in sg_rules(rule_resource.resource_type, rule_resource.props, rule_resource.name):
                if rule.ingress:
                    _check_host_ingress(
                        rule, rule_resource, group, alb_groups, _may_admit(rule, ssh_cidrs, edge_ports), report
                    )
        for rule in sg_rules(GROUP, group.props, group.name):
            if rule.ingress:
                _check_host_ingress(rule, group, group, alb_groups, _may_admit(rule, ssh_cidrs, edge_ports), report)


def _may_admit(rule: SgRule, ssh_cidrs: set[str], edge_ports: set[int]) -> set[str]:
    """The CIDRs a host rule may admit: the admin CIDRs on SSH, anywhere on an edge port of a stack
    without a load balancer, nothing else."""
    port = rule.from_port if rule.from_port == rule.to_port else None
    if port == 22:
        return ssh_cidrs
    return {"0.0.0.0/0", "::/0"} if port in edge_ports else set()


def _check_host_ingress(
    rule: SgRule,
    source: PolicyResource,
    group: PolicyResource,
    alb_groups: set[str],
    allowed_cidrs: set[str],
    report: Report,
) -> None:
    peer_props = ("referencedSecurityGroupId", "sourceSecurityGroupId", "ingress")
    from_alb = any(dep.urn in alb_groups for p in peer_props for dep in source.property_dependencies.get(p, []))
    cidrs = [c for c in rule.cidrs if not is_unknown(c)]
    if cidrs:
        if not all(c in allowed_cidrs for c in cidrs):
            report(
                f"host security group {group.name!r}: rule {rule.where!r} admits {', '.join(map(str, cidrs))}; "
                "the host takes traffic only from the load balancer's security group",
                group.urn,
            )
    elif not from_alb and not any(depends_on(source, p, group) for p in peer_props[:2]):
        report(
            f"host security group {group.name!r}: rule {rule.where!r} admits a source other than the load balancer's security group",
            group.urn,
        )


def _default_group_closed(args: StackValidationArgs, report: Report) -> None:
    defaults = of_type(args, DEFAULT_GROUP)
    for group in defaults:
        if any(True for _ in sg_rules(DEFAULT_GROUP, group.props, group.name)):
            report(f"{label(group)} keeps rules; the VPC's default security group must allow nothing", group.urn)
    for vpc in of_type(args, VPC):
        if not any(depends_on(g, "vpcId", vpc) for g in defaults):
            report(
                f"{label(vpc)}: its default security group is not managed (aws.ec2.DefaultSecurityGroup with no rules), so it keeps AWS's allow-all-within-group rules",
                vpc.urn,
            )


RULES = [
    Rule(
        name="sg-no-world-ingress-on-sensitive-ports",
        description="No security group rule admits 0.0.0.0/0 or ::/0 on SSH, RDP, the app, database, cache, CMS or monitoring ports.",
        why="Those services are reached through the ALB or SSM only; open to the internet they are brute-forced within minutes.",
        severity=Severity.CRITICAL,
        check=_world_ingress,
        resource_types=RULE_TYPES,
        references=(
            "AWS-FSBP EC2.19",
            "AWS-FSBP EC2.13",
            "AWS-FSBP EC2.14",
            "checkov CKV_AWS_24",
            "checkov CKV_AWS_25",
        ),
        config={
            "ports": {
                "type": "array",
                "items": {"type": "integer", "minimum": 0, "maximum": 65535},
                "default": sorted(SENSITIVE_PORTS),
                "description": "ports that are never open to the whole internet",
            }
        },
    ),
    Rule(
        name="sg-rules-described",
        description="Every security group and every security group rule has a description.",
        why="A rule nobody can explain is a rule nobody dares remove; the description says why it exists.",
        severity=Severity.LOW,
        check=_described,
        resource_types=RULE_TYPES,
        references=("checkov CKV_AWS_23",),
    ),
    Rule(
        name="sg-default-group-closed",
        description="Every VPC's default security group is managed and allows no traffic.",
        why="Anything launched without an explicit group lands in the default one; AWS's default rules let such resources talk freely.",
        severity=Severity.MEDIUM,
        check=_default_group_closed,
        kind="stack",
        references=("AWS-FSBP EC2.2", "checkov CKV2_AWS_12"),
    ),
    Rule(
        name="sg-host-only-from-alb",
        description="The host's security group admits traffic only from the load balancer's security group (and SSH only from configured admin CIDRs); a stack with no load balancer (edge: host) may admit 80 and 443 from anywhere, nothing else.",
        why="The containers trust that every request came through the ALB, with TLS and header sanitising done.",
        severity=Severity.HIGH,
        check=_host_only_from_alb,
        kind="stack",
        references=("AWS-FSBP EC2.18",),
        config={
            "sshAllowedCidrs": {
                "type": "array",
                "items": {"type": "string"},
                "default": [],
                "description": "admin CIDRs allowed on port 22 (sshMode direct); empty with SSM",
            }
        },
    ),
]
