"""HostEdge: what edge `host` needs of AWS besides the open ports: Traefik's right to answer ACME DNS-01.

With edge `host` there is no ALB and no ACM certificate: Traefik on the host terminates
TLS on the Elastic IP with Let's Encrypt certificates, obtained by the DNS-01 challenge
in the stack's Route53 zone (the catalogue's `traefik` renders the resolver). DNS-01
rather than HTTP-01 because the certificate is then issued before the names point at
the host: the DNS cutover's health check verifies the real certificate over TLS first,
as it does through the ALB, and there is no window after the cutover in which Traefik
serves its self-signed default while an HTTP-01 challenge (which needs the names on the
host already) is retried. Renewals do not depend on port 80 either.

The price is that the host role may change records. It gets the least that works:
`route53:ChangeResourceRecordSets` on the one zone, only for TXT records and only at the
`_acme-challenge.` names of the stack's own hosts (IAM's ChangeResourceRecordSets
condition keys), `route53:ListResourceRecordSets` on that zone, and `route53:GetChange`
(to wait for INSYNC; change ids are not known in advance). The zone id is given to
Traefik, so it needs no ListHostedZones. The ALB path (edge `alb`) makes none of this.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.aws.host import AppHost
from components.aws.iam import policy_document
from components.config import StackConfig

ACME_CHALLENGE = "_acme-challenge"


@dataclass
class HostEdgeArgs:
    zone_id: str
    """The Route53 hosted zone that holds `hosts`, where the challenge records go."""
    hosts: Sequence[str]
    """Every public host name Traefik gets a certificate for (app, cms, grafana)."""
    host_role_name: pulumi.Input[str]
    """The host's IAM role: Traefik uses it through IMDSv2."""

    @classmethod
    def for_stack(cls, config: StackConfig, host: AppHost) -> HostEdgeArgs | None:
        """For edge `host` (the settings require a zone then); None for edge `alb`."""
        if config.edge != "host" or config.route53_zone_id is None:
            return None
        return cls(
            zone_id=config.route53_zone_id,
            hosts=(config.app_host, config.cms_host, config.grafana_host),
            host_role_name=host.role_name,
        )


class HostEdge(pulumi.ComponentResource):
    def __init__(self, name: str, args: HostEdgeArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("quintas:edge:HostEdge", name, None, opts)
        aws.iam.RolePolicy(
            "acme-dns",
            role=args.host_role_name,
            policy=policy_document(acme_dns_permissions(args.zone_id, args.hosts)),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({})


def challenge_names(hosts: Sequence[str]) -> list[str]:
    """The record names DNS-01 writes, as IAM's NormalizedRecordNames condition compares them (lower case, no dot)."""
    return [f"{ACME_CHALLENGE}.{host.lower().rstrip('.')}" for host in hosts]


def acme_dns_permissions(zone_id: str, hosts: Sequence[str]) -> list[dict[str, Any]]:
    zone = f"arn:aws:route53:::hostedzone/{zone_id}"
    return [
        {
            "Sid": "AcmeChallengeRecordsOnly",
            "Effect": "Allow",
            "Action": ["route53:ChangeResourceRecordSets"],
            "Resource": zone,
            "Condition": {
                "ForAllValues:StringEquals": {
                    "route53:ChangeResourceRecordSetsNormalizedRecordNames": challenge_names(hosts),
                    "route53:ChangeResourceRecordSetsRecordTypes": ["TXT"],
                }
            },
        },
        {"Sid": "ReadTheZone", "Effect": "Allow", "Action": ["route53:ListResourceRecordSets"], "Resource": zone},
        {
            # Change ids are made per request: the resource cannot be narrower.
            "Sid": "WaitForTheChange",
            "Effect": "Allow",
            "Action": ["route53:GetChange"],
            "Resource": "arn:aws:route53:::change/*",
        },
    ]
