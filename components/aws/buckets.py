"""Buckets: the uploads, backups and logs buckets, all made by the one secure-bucket builder
(components/aws/secure_bucket.py).

- The backups bucket is under S3 Object Lock in governance mode: every version is locked for
  the recovery window and a day, so Barman's retention deletes only add delete markers and the
  versions behind them expire by lifecycle (noncurrentVersionExpirationDays), never by the host.
- The uploads and backups bucket policies deny the host role every action that destroys
  versions, lifts or shortens a lock, or changes the rules that keep data (DESTRUCTIVE_ACTIONS),
  whatever IAM policy the role is ever given.
- The logs bucket receives the ALB's access logs (alb/) and the S3 server access logs of the
  uploads and backups buckets (s3-access/<bucket>/), all expiring after accessLogExpirationDays.
- With `replicateBackups` (prod's default), backups and uploads are replicated to buckets of the
  same shape in `replicaRegion` (components/aws/replication.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.aws.iam import host_role_name
from components.aws.replication import Source, replicate
from components.aws.secure_bucket import SecureBucket, SecureBucketArgs, secure_bucket
from components.config import StackConfig

ACCESS_LOG_PREFIX = "alb"
S3_ACCESS_LOG_PREFIX = "s3-access"
# What the host role may never do to a data bucket, whatever its IAM policy says: destroy versions,
# lift or shorten their lock, or change the rules that keep them.
DESTRUCTIVE_ACTIONS = (
    "s3:DeleteObjectVersion",
    "s3:BypassGovernanceRetention",
    "s3:PutObjectRetention",
    "s3:PutObjectLegalHold",
    "s3:PutBucketObjectLockConfiguration",
    "s3:PutLifecycleConfiguration",
    "s3:PutBucketVersioning",
    "s3:PutReplicationConfiguration",
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
    "s3:DeleteBucket",
)


@dataclass
class BucketsArgs:
    name: str
    """Prefix of the bucket names, e.g. quintas-crm-prod; the account id is appended for global uniqueness."""
    tags: Mapping[str, str]
    """Tags of every bucket; each bucket adds its `purpose`."""
    noncurrent_version_expiration_days: int
    """Days a replaced or deleted version in uploads and backups (and their replicas) is kept."""
    access_log_expiration_days: int
    """Days the ALB access logs are kept in the logs bucket."""
    protect_data: bool = True
    """Pulumi `protect` on the uploads and backups buckets and their replicas: a destroy or a replacement
    fails instead of deleting them. Default on; False lets a teardown delete them (staging)."""
    retain_data_on_delete: bool = True
    """Pulumi `retain_on_delete` on the uploads and backups buckets and their replicas: removing them from
    the program or the stack leaves them in AWS. Default on; False deletes them with the stack (staging)."""
    force_destroy_logs: bool = False
    """Let a teardown delete the logs bucket with its access logs: the ALB writes them continuously, so the
    bucket is never empty. Default off (a destroy stops at the logs); the data buckets never force-destroy."""
    replica_region: str | None = None
    """Replicate backups and uploads to this region; None: no replication."""
    kms_key_arn: pulumi.Input[str] | None = None
    """SSE-KMS key of the uploads and backups buckets; None: SSE-S3. Replication needs SSE-S3."""
    backups_lock_days: int | None = None
    """Object Lock (governance mode) on the backups bucket and its replica: days each version is locked.
    At least the recovery window; None: no lock."""
    untrusted_role_names: Sequence[str] = field(default_factory=tuple)
    """IAM roles (in this account) the data buckets' policies deny DESTRUCTIVE_ACTIONS: the host's."""

    @classmethod
    def for_stack(cls, config: StackConfig) -> BucketsArgs:
        """Prod keeps its data buckets through any teardown; staging's teardown deletes the access logs
        too instead of stopping at them."""
        return cls(
            name=config.name_prefix,
            tags=config.tags_for("buckets"),
            protect_data=config.is_prod,
            retain_data_on_delete=config.is_prod,
            force_destroy_logs=not config.is_prod,
            noncurrent_version_expiration_days=config.noncurrent_version_expiration_days,
            access_log_expiration_days=config.access_log_expiration_days,
            replica_region=config.replica_region,
            # A day beyond the window: the base backup the window's first day restores from is locked too.
            backups_lock_days=config.recovery_window_days + 1,
            untrusted_role_names=(host_role_name(config.name_prefix),),
        )


class Buckets(pulumi.ComponentResource):
    uploads: SecureBucket
    backups: SecureBucket
    logs: SecureBucket
    replicas: dict[str, SecureBucket]

    def __init__(self, name: str, args: BucketsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("quintas:buckets:Buckets", name, None, opts)
        account = aws.get_caller_identity(opts=pulumi.InvokeOptions(parent=self)).account_id
        elb_account = aws.elb.get_service_account(opts=pulumi.InvokeOptions(parent=self)).arn
        if args.replica_region and args.kms_key_arn is not None:
            raise ValueError(
                "replication of SSE-KMS buckets needs replica keys, which are not built: use SSE-S3 or no replication"
            )
        names = {p: f"{args.name}-{p}-{account}" for p in ("uploads", "backups", "logs")}
        self.logs = self._logs_bucket(args, names, account, elb_account)

        def data_bucket(purpose: str, lock_days: int | None = None) -> SecureBucketArgs:
            arn = f"arn:aws:s3:::{names[purpose]}"
            roles = [f"arn:aws:iam::{account}:role/{r}" for r in args.untrusted_role_names]
            return SecureBucketArgs(
                bucket=names[purpose],
                tags={**args.tags, "purpose": purpose},
                noncurrent_version_expiration_days=args.noncurrent_version_expiration_days,
                kms_key_arn=args.kms_key_arn,
                protect=args.protect_data,
                retain_on_delete=args.retain_data_on_delete,
                object_lock_days=lock_days,
                access_log_bucket=self.logs.name,
                access_log_prefix=f"{S3_ACCESS_LOG_PREFIX}/{purpose}/",
                extra_policy_statements=[_deny_destruction(arn, roles)] if roles else [],
            )

        self.uploads = secure_bucket("uploads", data_bucket("uploads"), self)
        self.backups = secure_bucket("backups", data_bucket("backups", args.backups_lock_days), self)
        self.replicas = {}
        if args.replica_region:
            sources = {
                "backups": Source(self.backups, args.backups_lock_days),
                "uploads": Source(self.uploads, None),
            }
            self.replicas = replicate(
                self, name=args.name, account=account, region=args.replica_region, sources=sources,
                template=data_bucket("uploads"),
            )  # fmt: skip
        self.register_outputs(
            {
                "uploadsBucket": self.uploads.name,
                "backupsBucket": self.backups.name,
                "logsBucket": self.logs.name,
                **{f"{k}ReplicaBucket": v.name for k, v in self.replicas.items()},
            }
        )

    def _logs_bucket(self, args: BucketsArgs, names: Mapping[str, str], account: str, elb_account: str) -> SecureBucket:
        return secure_bucket(
            "logs",
            SecureBucketArgs(
                bucket=names["logs"],
                tags={**args.tags, "purpose": "logs"},
                versioning=False,
                expiration_days=args.access_log_expiration_days,
                extra_policy_statements=[
                    *_alb_log_delivery(f"arn:aws:s3:::{names['logs']}", account, elb_account),
                    _s3_log_delivery(names, account),
                ],
                # Access logs are not the CRM's data: a teardown may delete this bucket when the
                # stack allows it (force_destroy_logs), so it is never protected or retained.
                protect=False,
                retain_on_delete=False,
                force_destroy=args.force_destroy_logs,
            ),
            self,
        )


def _deny_destruction(arn: str, role_arns: Sequence[str]) -> dict[str, Any]:
    # An explicit Deny in the bucket's own policy outweighs any Allow the role is ever given.
    return {
        "Sid": "UntrustedRolesNeverDestroyData",
        "Effect": "Deny",
        "Principal": "*",
        "Action": list(DESTRUCTIVE_ACTIONS),
        "Resource": [arn, f"{arn}/*"],
        "Condition": {"ArnLike": {"aws:PrincipalArn": list(role_arns)}},
    }


def _s3_log_delivery(names: Mapping[str, str], account: str) -> dict[str, Any]:
    """S3 server access logging writes under s3-access/, for this account's data buckets only."""
    return {
        "Sid": "S3ServerAccessLogsFromDataBuckets",
        "Effect": "Allow",
        "Principal": {"Service": "logging.s3.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{names['logs']}/{S3_ACCESS_LOG_PREFIX}/*",
        "Condition": {
            "ArnLike": {"aws:SourceArn": [f"arn:aws:s3:::{names[p]}" for p in ("uploads", "backups")]},
            "StringEquals": {"aws:SourceAccount": account},
        },
    }


def _alb_log_delivery(logs_arn: str, account: str, elb_account_arn: str) -> list[dict[str, Any]]:
    """Who may write ALB access logs: the regional ELB account (regions before August 2022)
    and the log-delivery service principal (newer regions), only under this account's prefix."""
    resource = f"{logs_arn}/{ACCESS_LOG_PREFIX}/AWSLogs/{account}/*"
    return [
        {
            "Sid": "AlbAccessLogsFromElbAccount",
            "Effect": "Allow",
            "Principal": {"AWS": elb_account_arn},
            "Action": "s3:PutObject",
            "Resource": resource,
        },
        {
            "Sid": "AlbAccessLogsFromLogDelivery",
            "Effect": "Allow",
            "Principal": {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": resource,
        },
    ]
