"""EC2 host rules: instance metadata, root device, instance profile, monitoring,
termination protection, user data free of secrets, and the public IPv4 address."""

from __future__ import annotations

import base64
import binascii
import re

from pulumi_policy import ResourceValidationArgs, Severity, StackValidationArgs

from .base import (
    ADVISORY,
    ENVIRONMENT_SCHEMA,
    Report,
    Rule,
    get,
    is_prod,
    is_unknown,
    label,
    number,
    of_type,
    refers_to,
)

INSTANCE = ("aws:ec2/instance:Instance",)
LAUNCH_TEMPLATE = ("aws:ec2/launchTemplate:LaunchTemplate",)
EIP_TYPES = ("aws:ec2/eip:Eip", "aws:ec2/eipAssociation:EipAssociation")

# What a secret looks like in user data: an assignment of a literal value to a
# secret-named key, an AWS access key id, or a private key block.
SECRET_ASSIGNMENT = re.compile(
    r"(?i)(?P<key>[\w.-]*(password|passwd|secret|api[_-]?key|private[_-]?key|access[_-]?key|token)[\w.-]*)"
    r"['\"]?\s*[:=]\s*['\"]?(?P<value>[^\s'\"]+)"
)
SECRET_LITERALS = (
    re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
)
# Values that are settings or references, not secrets: flags, numbers, variables, paths.
NOT_A_SECRET = re.compile(r"(?i)^(true|false|yes|no|null|none|required|optional|\d+|[$<{/].*)$")


def _imdsv2(args: ResourceValidationArgs, report: Report) -> None:
    tokens = get(args.props, "metadataOptions", "httpTokens")
    if not is_unknown(tokens) and tokens != "required":
        report(f"{label(args)}: metadataOptions.httpTokens is {tokens!r}; set it to 'required' (IMDSv2)")


def _hop_limit(args: ResourceValidationArgs, report: Report) -> None:
    limit = args.get_config()["maxHopLimit"]
    hops = number(get(args.props, "metadataOptions", "httpPutResponseHopLimit"))
    if hops is not None and hops > limit:
        report(f"{label(args)}: metadataOptions.httpPutResponseHopLimit is {hops:g}, above {limit}")


def _root_encrypted(args: ResourceValidationArgs, report: Report) -> None:
    encrypted = get(args.props, "rootBlockDevice", "encrypted")
    if not is_unknown(encrypted) and encrypted is not True:
        report(f"{label(args)}: rootBlockDevice.encrypted is not true")
    for i, device in enumerate(get(args.props, "ebsBlockDevices") or []):
        if get(device, "encrypted") is False:
            report(f"{label(args)}: ebsBlockDevices[{i}] is not encrypted")


def _instance_profile(args: ResourceValidationArgs, report: Report) -> None:
    profile = get(args.props, "iamInstanceProfile")
    if not is_unknown(profile) and not profile:
        report(f"{label(args)} has no iamInstanceProfile: containers would need static AWS keys")


def _detailed_monitoring(args: ResourceValidationArgs, report: Report) -> None:
    if (
        is_prod(args.get_config())
        and get(args.props, "monitoring") is not True
        and not is_unknown(get(args.props, "monitoring"))
    ):
        report(f"{label(args)}: detailed monitoring (monitoring=true) is off in prod")


def _termination_protection(args: ResourceValidationArgs, report: Report) -> None:
    value = get(args.props, "disableApiTermination")
    if is_prod(args.get_config()) and value is not True and not is_unknown(value):
        report(f"{label(args)}: disableApiTermination is off in prod")


def _ebs_optimized(args: ResourceValidationArgs, report: Report) -> None:
    value = get(args.props, "ebsOptimized")
    if value is False:
        report(f"{label(args)}: ebsOptimized is false; the data volume shares bandwidth with the network")


def user_data_text(props: object) -> str | None:
    text = get(props, "userData")
    if isinstance(text, str):
        return text
    encoded = get(props, "userDataBase64")
    if isinstance(encoded, str):
        try:
            return base64.b64decode(encoded, validate=True).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            return encoded
    return None


def find_secrets(text: str) -> list[str]:
    """Where each secret-looking value is (line and key), never the value itself."""
    found = []
    for line_number, line in enumerate(text.splitlines(), 1):
        match = SECRET_ASSIGNMENT.search(line)
        if match and len(match.group("value")) >= 4 and not NOT_A_SECRET.match(match.group("value")):
            found.append(f"line {line_number}: {match.group('key')[:40]}")
        elif any(p.search(line) for p in SECRET_LITERALS):
            found.append(f"line {line_number}: a literal key")
    return found


def _no_secrets_in_user_data(args: ResourceValidationArgs, report: Report) -> None:
    text = user_data_text(args.props)
    if text is None and args.resource_type in LAUNCH_TEMPLATE:
        text = user_data_text({"userDataBase64": get(args.props, "userData")})
    hits = find_secrets(text or "")
    if hits:
        report(
            f"{label(args)}: user data looks like it holds a secret ({'; '.join(hits)}); it is readable from the instance metadata and the console"
        )


def _public_ip(args: StackValidationArgs, report: Report) -> None:
    for instance in of_type(args, *INSTANCE):
        if get(instance.props, "associatePublicIpAddress") is True:
            report(f"{label(instance)} gets a public IPv4 address (associatePublicIpAddress)", instance.urn)
        for eip in of_type(args, *EIP_TYPES):
            if refers_to(eip, "instance", instance) or refers_to(eip, "instanceId", instance):
                report(f"{label(instance)} gets the public Elastic IP {eip.name!r}", instance.urn)


RULES = [
    Rule(
        name="ec2-imdsv2-required",
        description="Every EC2 instance requires IMDSv2 session tokens (metadataOptions.httpTokens = required).",
        why="IMDSv1 lets any SSRF in the CRM read the instance role's credentials.",
        severity=Severity.HIGH,
        check=_imdsv2,
        resource_types=INSTANCE,
        references=("AWS-FSBP EC2.8", "checkov CKV_AWS_79"),
    ),
    Rule(
        name="ec2-imds-hop-limit",
        description="The instance metadata hop limit is at most 2.",
        why="2 lets containers on the Docker bridge use the instance role; more lets the token travel further.",
        severity=Severity.MEDIUM,
        check=_hop_limit,
        resource_types=INSTANCE,
        references=(
            "project rule: checkov CKV_AWS_341 checks launch templates only and wants 1; containers on the "
            "Docker bridge need 2 (ARCHITECTURE.md), and no FSBP control covers the hop limit",
        ),
        config={
            "maxHopLimit": {
                "type": "integer",
                "minimum": 1,
                "maximum": 64,
                "default": 2,
                "description": "highest allowed hop limit",
            }
        },
    ),
    Rule(
        name="ec2-root-volume-encrypted",
        description="Every EC2 instance's root device (and any extra block device) is encrypted.",
        why="The root volume holds Docker images, container logs and the rendered configuration.",
        severity=Severity.HIGH,
        check=_root_encrypted,
        resource_types=INSTANCE,
        references=("checkov CKV_AWS_8",),
    ),
    Rule(
        name="ec2-instance-profile",
        description="Every EC2 instance has an IAM instance profile.",
        why="The host reaches S3, ECR and CloudWatch with its role's short-lived credentials, never stored keys.",
        severity=Severity.MEDIUM,
        check=_instance_profile,
        resource_types=INSTANCE,
        references=("checkov CKV2_AWS_41",),
    ),
    Rule(
        name="ec2-detailed-monitoring-in-prod",
        description="In prod every EC2 instance has detailed (1-minute) monitoring.",
        why="The status-check and recovery alarms react within minutes only with 1-minute metrics.",
        severity=Severity.LOW,
        check=_detailed_monitoring,
        resource_types=INSTANCE,
        references=("checkov CKV_AWS_126",),
        config={"environment": ENVIRONMENT_SCHEMA},
    ),
    Rule(
        name="ec2-termination-protection-in-prod",
        references=("project rule: no FSBP control or checkov check asks for disableApiTermination on an instance",),
        description="In prod every EC2 instance has termination protection (disableApiTermination).",
        why="A stray terminate from the console or CLI would take the CRM down until a new host is built.",
        severity=Severity.MEDIUM,
        check=_termination_protection,
        resource_types=INSTANCE,
        config={"environment": ENVIRONMENT_SCHEMA},
    ),
    Rule(
        name="ec2-ebs-optimized",
        description="No EC2 instance turns EBS optimization off.",
        why="PostgreSQL's data volume needs its own bandwidth; current instance types are EBS-optimized unless disabled.",
        severity=Severity.LOW,
        check=_ebs_optimized,
        resource_types=INSTANCE,
        references=("checkov CKV_AWS_135",),
    ),
    Rule(
        name="ec2-no-secrets-in-user-data",
        description="EC2 user data holds no password, secret, token, key or private key.",
        why="User data is readable by anyone with ec2:DescribeInstanceAttribute and by every process on the host via IMDS.",
        severity=Severity.CRITICAL,
        check=_no_secrets_in_user_data,
        resource_types=INSTANCE + LAUNCH_TEMPLATE,
        references=("checkov CKV_AWS_46",),
    ),
    Rule(
        name="ec2-no-public-ipv4",
        description="No EC2 instance has a public IPv4 address (auto-assigned or Elastic IP).",
        why="A public address makes the host reachable from the internet if a security group is ever widened.",
        severity=Severity.MEDIUM,
        check=_public_ip,
        kind="stack",
        level=ADVISORY,
        advisory_reason=(
            "ARCHITECTURE.md decision: the host keeps a public IPv4 with no inbound rule from the internet "
            "instead of a NAT gateway (about $33/month); the security-group rules enforce that nothing reaches it."
        ),
        references=("AWS-FSBP EC2.9",),
    ),
]
