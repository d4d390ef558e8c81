"""Keys: the customer managed KMS key of the stack's telemetry (log groups and the alert topic).

Container logs can carry personal data (Directus request logs with e-mail addresses
and record ids, PostgreSQL statements with values, the frontend's request paths),
and so can the VPC flow logs (client addresses) and the WAF's logs: every log group
of the stack is encrypted with this key, and so is the alert topic. One key, not
one per use: a key costs $1 a month and all of them are read by the same operators.

The key policy keeps the account in charge (IAM policies grant its use, so a key is
never locked out) and lets three AWS services use it for this stack only:
CloudWatch Logs (`logs.<region>.amazonaws.com`, for the stack's log groups),
CloudWatch alarms (`cloudwatch.amazonaws.com`, publishing to the encrypted topic)
and SNS itself. The host role gets its use through Monitoring's grant
(Alertmanager publishes to the topic). Rotation is yearly, by AWS.

A key is regional: a stack outside us-east-1 has its Route53 health-check alarm and
that alarm's topic in us-east-1 (see Monitoring), so it gets a second key there,
`telemetry-us-east-1`, with the same policy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.aws.iam import policy_document
from components.config import StackConfig

HEALTH_CHECK_REGION = "us-east-1"  # Route53 publishes health-check metrics there only (see Monitoring)


@dataclass
class KeysArgs:
    name: str
    """Prefix of physical names, e.g. quintas-crm-prod: the alias is alias/<name>-telemetry."""
    tags: Mapping[str, str]
    """Tags of the key."""
    region: str
    """The stack's region: the key and the CloudWatch Logs service principal that uses it are there."""
    other_regions: tuple[str, ...] = ()
    """More regions that need the key (a key is regional): one more key each, named telemetry-<region>."""
    deletion_window_days: int = 30
    """Days a scheduled key deletion waits (7-30): everything encrypted with it is lost after it."""

    @classmethod
    def for_stack(cls, config: StackConfig) -> KeysArgs:
        """The stack's region, and us-east-1 for the health-check alarm's topic when the stack is elsewhere."""
        others = tuple(r for r in (HEALTH_CHECK_REGION,) if r != config.region)
        return cls(name=config.name_prefix, tags=config.tags_for("keys"), region=config.region, other_regions=others)


class Keys(pulumi.ComponentResource):
    telemetry_key_arn: pulumi.Output[str]
    telemetry_key_arns: dict[str, pulumi.Output[str]]
    """region -> the telemetry key there (the stack's region and `other_regions`)."""

    def __init__(self, name: str, args: KeysArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("quintas:keys:Keys", name, None, opts)
        account = aws.get_caller_identity(opts=pulumi.InvokeOptions(parent=self)).account_id
        self.telemetry_key_arns = {
            region: self._key(args, account, region, suffix="" if region == args.region else f"-{region}")
            for region in (args.region, *args.other_regions)
        }
        self.telemetry_key_arn = self.telemetry_key_arns[args.region]
        self.register_outputs({"telemetryKeyArn": self.telemetry_key_arn})

    def _key(self, args: KeysArgs, account: str, region: str, suffix: str) -> pulumi.Output[str]:
        child = pulumi.ResourceOptions(parent=self)
        key = aws.kms.Key(
            f"telemetry{suffix}",
            description=f"{args.name}: container, flow and WAF log groups and the alert topic",
            enable_key_rotation=True,
            deletion_window_in_days=args.deletion_window_days,
            policy=policy_document(telemetry_key_policy(account, region)),
            region=region if suffix else None,
            tags=dict(args.tags),
            opts=child,
        )
        aws.kms.Alias(
            f"telemetry{suffix}",
            name=f"alias/{args.name}-telemetry",
            target_key_id=key.key_id,
            region=region if suffix else None,
            opts=child,
        )
        return key.arn


def telemetry_key_policy(account: str, region: str) -> list[dict[str, Any]]:
    """Who may use the telemetry key: the account through IAM, and the services that write with it."""
    return [
        {
            # Without it no IAM policy could grant the key and nobody could manage it.
            "Sid": "AccountManagesTheKeyThroughIam",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Sid": "CloudWatchLogsEncryptsTheStacksLogGroups",
            "Effect": "Allow",
            "Principal": {"Service": f"logs.{region}.amazonaws.com"},
            "Action": [
                "kms:Encrypt",
                "kms:Decrypt",
                "kms:ReEncryptFrom",
                "kms:ReEncryptTo",
                "kms:GenerateDataKey",
                "kms:GenerateDataKeyWithoutPlaintext",
                "kms:DescribeKey",
            ],
            "Resource": "*",
            "Condition": {
                "ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{region}:{account}:log-group:*"}
            },
        },
        {
            # CloudWatch alarms publish to the encrypted alert topic (the AWS managed SNS key cannot
            # allow this), and SNS decrypts what it delivers.
            "Sid": "CloudWatchAlarmsAndSnsUseTheAlertTopic",
            "Effect": "Allow",
            "Principal": {"Service": ["cloudwatch.amazonaws.com", "sns.amazonaws.com"]},
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceAccount": account}},
        },
    ]
