"""Limits on settings that come from where their values end up: why none may be a secret
(each lands in plain tags, names or settings), the stack name inside AWS physical names,
and the admin allow-list, which must not open the host to the internet.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping

from components.config_checks import Reader

_TAG = "it becomes a tag on every resource"
_DNS = "it is a public DNS name: in the certificate, the ALB's rules and the stack outputs"
# Why each setting must arrive in plain text (by key, without the project prefix).
PLAIN_BECAUSE: Mapping[str, str] = {
    "environment": _TAG,
    "owner": _TAG,
    "appHost": _DNS,
    "cmsHost": _DNS,
    "grafanaHost": _DNS,
    "route53ZoneId": "it goes into the plan's DNS records and outputs",
    "alertEmails": "it becomes the SNS subscriptions and the CMS admin's e-mail in plain container settings",
    "adminCidrs": "it becomes security group rules",
    "operatorPublicKey": "a public key is not a secret: it becomes the host's EC2 key pair",
    "imageTags": "it becomes the containers' image references",
    "monthlyBudgetUsd": "the cost gate prints it with every plan",
    "edge": "it decides which resources exist: the plan shows it",
    "schedule": "it becomes EventBridge Scheduler cron expressions",
    "topology": "it decides which resources the plan shows",
    "ecsScaling": "it becomes the auto scaling targets' bounds",
    "databaseInstanceClass": "it becomes the RDS instance's class",
    "cacheNodeType": "it becomes the ElastiCache nodes' type",
}
REGION_PLAIN_BECAUSE = "it is part of every resource's ARN and endpoint"

# What a WAL segment closed by archive_timeout may take to reach S3, allowed between
# archiveTimeoutSeconds and rpoSeconds: the backup drill measured 1.4 s (a quiet spell
# under load peaked at archive_timeout + 1.4 s, build/drill.json rpo_worst_s), and S3
# latency and a busy host add to it.
ARCHIVE_SHIPPING_SECONDS = 10
DEFAULT_ARCHIVE_TIMEOUT_SECONDS = 60 - ARCHIVE_SHIPPING_SECONDS  # the default RPO goal is 60 s

MIN_ADMIN_PREFIX = {4: 16, 6: 48}
ADMIN_NETWORK_SIZE = (
    "an office or VPN network of at most /16 (IPv4) or /48 (IPv6): "
    "admin access is never open to large parts of the internet"
)

# Physical names derived from the stack name and the limits AWS puts on them; the
# tightest one bounds the stack name (`<account>` is the 12-digit account id).
STACK_NAME_LIMITS: Mapping[str, int] = {
    "ALB name quintas-crm-<stack>": 32,
    "S3 bucket name quintas-crm-<stack>-uploads-replica-<account>": 63,
    "IAM role name quintas-crm-<stack>-s3-replication": 64,
}
_STACK_NAME = re.compile(r"\A[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\Z", re.ASCII)


def check_stack_name(r: Reader, stack: str) -> None:
    """The stack name is part of every physical name: it must be one that every one of them allows."""
    tightest = min(STACK_NAME_LIMITS, key=longest_stack_name)
    most = longest_stack_name(tightest)
    if not _STACK_NAME.fullmatch(stack):
        r.bad(
            "stack",
            stack,
            "a stack name of lower-case letters, digits and hyphens, not starting or ending with a hyphen, "
            f"at most {most} characters (it goes into S3 bucket names and the ALB name)",
        )
    elif len(stack) > most:
        limit = STACK_NAME_LIMITS[tightest]
        r.bad("stack", stack, f"a stack name of at most {most} characters: the {tightest} is limited to {limit}")


def longest_stack_name(name: str) -> int:
    """How long the stack name may be for the physical name `name` ("what template") to stay within its limit."""
    template = name.rsplit(" ", 1)[-1].replace("<account>", "0" * 12)
    return STACK_NAME_LIMITS[name] - (len(template) - len("<stack>"))


def admin_cidrs(r: Reader, ssh_mode: str) -> tuple[str, ...]:
    raw = r.raw("adminCidrs")
    if raw is None:
        raw = []
    key = r.key("adminCidrs")
    if not isinstance(raw, list):
        r.bad(key, raw, "a list of CIDR blocks such as 203.0.113.10/32")
        return ()
    cidrs: list[str] = []
    for item in raw:
        try:
            net = ipaddress.ip_network(str(item), strict=True)
        except ValueError:
            r.bad(key, item, "a CIDR block with no host bits set, such as 203.0.113.10/32")
            continue
        if net.prefixlen == 0:
            r.bad(key, item, "a specific network: admin access is never open to 0.0.0.0/0 or ::/0")
            continue
        if net.prefixlen < MIN_ADMIN_PREFIX[net.version]:
            # Halves or quarters of the internet (0.0.0.0/1 + 128.0.0.0/1) are as open as /0.
            r.bad(key, item, ADMIN_NETWORK_SIZE)
            continue
        cidrs.append(str(net))
    if ssh_mode == "direct" and not raw:
        r.bad(key, raw, "at least one CIDR block when sshMode is direct")
    return tuple(cidrs)
