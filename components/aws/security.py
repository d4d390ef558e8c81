"""SecurityGroups: the ALB's and the host's security groups, one described rule per resource.

- ALB (edge `alb`): 80 and 443 from the internet; out only to the host's two target ports.
- Host: 3000 and 8055 only from the ALB group (edge `alb`), or, with edge `host` (Traefik
  terminates TLS on the Elastic IP, no ALB and no ALB group), 80 and 443 from the
  internet instead and the target ports from nowhere; SSH only in `direct` mode and only
  from the admin CIDRs; nothing else. In particular no rule for 9100: node-exporter
  runs in the host's network namespace and listens on every interface of the host,
  and this group is what keeps it private (Prometheus reaches it from inside the
  host, at host.docker.internal); out only 443 and 80 (images, packages, AWS APIs, SSM) and
  123/udp (NTP).

Every rule is its own aws.vpc.SecurityGroupIngressRule/EgressRule resource with a
description, so one rule can change without replacing the group or the others.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_aws as aws

from components.aws.network import Network
from components.config import StackConfig
from components.config_sections import Edge, SshMode

APP_PORT = 3000
CMS_PORT = 8055
SSH_PORT = 22
ANYWHERE_V4 = "0.0.0.0/0"


@dataclass(frozen=True)
class HostEgress:
    """One outbound allowance of the host: protocol, port and the reason it exists."""

    protocol: str
    port: int
    description: str


# The host reaches the internet for: Docker Hub / ECR / apt (443, 80), the SSM agent
# and every AWS API (443, no VPC endpoints to save their hourly cost), NTP pools (123).
# DNS needs no rule: the VPC resolver is not filtered by security groups.
HOST_EGRESS = (
    HostEgress("tcp", 443, "HTTPS out: AWS APIs (SSM, S3, ECR, CloudWatch Logs, SNS), container registries, apt"),
    HostEgress("tcp", 80, "HTTP out: Ubuntu apt mirrors (packages are signed)"),
    HostEgress("udp", 123, "NTP out: time sync fallback when the Amazon Time Sync link-local service is unreachable"),
)


@dataclass
class SecurityGroupsArgs:
    vpc_id: pulumi.Input[str]
    """The VPC both groups belong to."""
    name: str
    """Prefix of the groups' names, e.g. quintas-crm-prod."""
    tags: Mapping[str, str]
    """Tags of both groups."""
    ssh_mode: SshMode = "ssm"
    """`ssm` (default): no port 22 rule, SSH rides SSM Session Manager; `direct`: SSH from `admin_cidrs`."""
    admin_cidrs: Sequence[str] = field(default_factory=tuple)
    """CIDRs allowed SSH to the host in `direct` mode; unused in `ssm` mode. Default: none."""
    target_ports: Sequence[int] = (APP_PORT, CMS_PORT)
    """Host ports the ALB may reach (Traefik's entrypoints); nothing else is open to it."""
    edge: Edge = "alb"
    """`alb` (default): an ALB group, the host open to it only; `host`: no ALB group, the host takes 80 and
    443 from the internet (Traefik's public entrypoints) and nothing on the target ports."""

    @classmethod
    def for_stack(cls, config: StackConfig, network: Network) -> SecurityGroupsArgs:
        return cls(
            vpc_id=network.vpc_id,
            name=config.name_prefix,
            tags=config.tags_for("security"),
            ssh_mode=config.ssh_mode,
            admin_cidrs=config.admin_cidrs,
            edge=config.edge,
        )


class SecurityGroups(pulumi.ComponentResource):
    alb_security_group_id: pulumi.Output[str] | None
    """The ALB's group; None with edge `host` (no load balancer)."""
    host_security_group_id: pulumi.Output[str]

    def __init__(self, name: str, args: SecurityGroupsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("quintas:security:SecurityGroups", name, None, opts)
        self._args = args
        self.alb_security_group_id = None
        if args.edge == "host":
            host = self._group("host", "Quintas CRM host: HTTP and HTTPS from the internet to Traefik")
            self._public_host_rules(host)
        else:
            alb = self._group("alb", "Quintas CRM load balancer: HTTP and HTTPS from the internet")
            host = self._group("host", "Quintas CRM host: target ports from the load balancer only")
            self._alb_rules(alb, host)
            for port in args.target_ports:
                why = f"target port {port} from the load balancer only"
                self._rule("in", f"host-in-{port}", host, protocol="tcp", port=port, peer_group=alb.id, description=why)
            self.alb_security_group_id = alb.id
        self._host_rules(host)
        self.host_security_group_id = host.id
        self.register_outputs({"albSecurityGroupId": self.alb_security_group_id, "hostSecurityGroupId": host.id})

    def _group(self, key: str, description: str) -> aws.ec2.SecurityGroup:
        name = f"{self._args.name}-{key}"
        return aws.ec2.SecurityGroup(
            key,
            name=name,
            description=description,
            vpc_id=self._args.vpc_id,
            tags={**self._args.tags, "Name": name},
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _rule(
        self,
        direction: Literal["in", "out"],
        name: str,
        group: aws.ec2.SecurityGroup,
        *,
        protocol: str,
        port: int,
        description: str,
        cidr: str | None = None,
        peer_group: pulumi.Input[str] | None = None,
    ) -> None:
        """One rule resource: to/from a CIDR (IPv4 or IPv6 by its form) or a peer security group."""
        v6 = cidr is not None and ipaddress.ip_network(cidr).version == 6
        rule_type = aws.vpc.SecurityGroupIngressRule if direction == "in" else aws.vpc.SecurityGroupEgressRule
        rule_type(
            name,
            security_group_id=group.id,
            ip_protocol=protocol,
            from_port=port,
            to_port=port,
            cidr_ipv4=None if v6 else cidr,
            cidr_ipv6=cidr if v6 else None,
            referenced_security_group_id=peer_group,
            description=description,
            tags=dict(self._args.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _alb_rules(self, alb: aws.ec2.SecurityGroup, host: aws.ec2.SecurityGroup) -> None:
        # IPv4 only: the VPC and the ALB have no IPv6 addresses.
        self._rule("in", "alb-in-443", alb, protocol="tcp", port=443, cidr=ANYWHERE_V4,
                   description="HTTPS from the internet: the app and CMS")  # fmt: skip
        self._rule("in", "alb-in-80", alb, protocol="tcp", port=80, cidr=ANYWHERE_V4,
                   description="HTTP from the internet: only redirected to HTTPS")  # fmt: skip
        for port in self._args.target_ports:
            self._rule("out", f"alb-out-{port}", alb, protocol="tcp", port=port, peer_group=host.id,
                       description=f"to the host's target port {port} only")  # fmt: skip

    def _public_host_rules(self, host: aws.ec2.SecurityGroup) -> None:
        """Edge `host`: Traefik's public entrypoints on the Elastic IP (IPv4 only, like the ALB's)."""
        for port, why in (
            (443, "HTTPS from the internet to Traefik (edge host): the app, CMS and Grafana"),
            (80, "HTTP from the internet to Traefik (edge host): only redirected to HTTPS"),
        ):
            self._rule("in", f"host-in-{port}", host, protocol="tcp", port=port, cidr=ANYWHERE_V4, description=why)

    def _host_rules(self, host: aws.ec2.SecurityGroup) -> None:
        if self._args.ssh_mode == "direct":
            for index, cidr in enumerate(self._args.admin_cidrs):
                if ipaddress.ip_network(cidr).prefixlen == 0:
                    raise ValueError(f"admin CIDR {cidr} opens SSH to the whole internet; list specific networks")
                self._rule("in", f"host-in-ssh-{index}", host, protocol="tcp", port=SSH_PORT, cidr=cidr,
                           description=f"SSH from admin network {cidr} (sshMode=direct)")  # fmt: skip
        for rule in HOST_EGRESS:
            self._rule("out", f"host-out-{rule.protocol}-{rule.port}", host, protocol=rule.protocol, port=rule.port,
                       cidr=ANYWHERE_V4, description=rule.description)  # fmt: skip
