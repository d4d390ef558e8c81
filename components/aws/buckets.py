"""Buckets: the uploads, backups and ALB access-log buckets, all made by one secure-bucket builder.

`secure_bucket` is the only way this program makes an S3 bucket. Every bucket it
makes has the four public-access blocks, BucketOwnerEnforced ownership (ACLs off),
server-side encryption (SSE-S3, or SSE-KMS when a key is given), a policy that
denies any request not made over TLS, and a lifecycle that aborts incomplete
multipart uploads after 7 days. Unsafe choices are named opt-outs.

With `replicateBackups`, the backups and uploads buckets are replicated to a
bucket of the same shape in `replicaRegion`, made through a second aws.Provider.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.aws.iam import policy_document, service_role
from components.config import StackConfig

ABORT_MULTIPART_DAYS = 7
ACCESS_LOG_PREFIX = "alb"


@dataclass
class SecureBucketArgs:
    bucket: str
    """The physical bucket name (globally unique)."""
    tags: Mapping[str, str]
    """Tags of the bucket."""
    versioning: bool = True
    """Keep every version of every object, so an overwrite or a delete can be undone. Default on."""
    noncurrent_version_expiration_days: int | None = None
    """Days a replaced or deleted version is kept before it expires; None: kept forever."""
    expiration_days: int | None = None
    """Days after which objects expire (access logs); None: objects never expire."""
    kms_key_arn: pulumi.Input[str] | None = None
    """SSE-KMS with this key instead of SSE-S3 (ALB access logs support SSE-S3 only); None: SSE-S3."""
    extra_policy_statements: Sequence[pulumi.Input[Mapping[str, Any]]] = field(default_factory=tuple)
    """Statements added to the bucket policy after the TLS-only deny, e.g. the ALB's log delivery."""
    protect: bool = True
    """Pulumi `protect`: a `pulumi destroy` or a replacement of the bucket fails instead of deleting it.
    Default on; False for buckets a teardown may delete."""
    retain_on_delete: bool = True
    """Pulumi `retain_on_delete`: removing the bucket from the program or the stack leaves it in AWS.
    Default on; False deletes it with the stack."""
    force_destroy: bool = False
    """Opt-out: let `pulumi destroy` delete a non-empty bucket with its objects. Never set for data buckets."""


@dataclass
class SecureBucket:
    """What the rest of the program uses of a bucket: its name and ARN.

    `name` resolves only after the bucket's policy exists, so whatever uses the
    name (the ALB's access logs, the host) waits until TLS-only access is enforced.
    """

    name: pulumi.Output[str]
    arn: pulumi.Output[str]
    bucket: aws.s3.Bucket
    versioning: aws.s3.BucketVersioning | None


def tls_only_statement(arn: pulumi.Input[str]) -> pulumi.Output[dict[str, Any]]:
    # s3:* in a Deny is the narrowest correct form: every S3 action must refuse plain HTTP.
    return pulumi.Output.from_input(arn).apply(
        lambda a: {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [a, f"{a}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    )


def secure_bucket(
    name: str, args: SecureBucketArgs, parent: pulumi.Resource, provider: aws.Provider | None = None
) -> SecureBucket:
    """Make one bucket with every secure default, its settings as sibling resources of `parent`."""
    child = pulumi.ResourceOptions(parent=parent, provider=provider)
    bucket = aws.s3.Bucket(
        name,
        bucket=args.bucket,
        force_destroy=args.force_destroy,
        tags=dict(args.tags),
        opts=pulumi.ResourceOptions.merge(
            child, pulumi.ResourceOptions(protect=args.protect, retain_on_delete=args.retain_on_delete)
        ),
    )
    public_block = aws.s3.BucketPublicAccessBlock(
        name, bucket=bucket.id, block_public_acls=True, block_public_policy=True,
        ignore_public_acls=True, restrict_public_buckets=True, opts=child,
    )  # fmt: skip
    aws.s3.BucketOwnershipControls(name, bucket=bucket.id, rule={"object_ownership": "BucketOwnerEnforced"}, opts=child)
    kms = args.kms_key_arn is not None
    aws.s3.BucketServerSideEncryptionConfiguration(
        name,
        bucket=bucket.id,
        rules=[
            aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                    sse_algorithm="aws:kms" if kms else "AES256", kms_master_key_id=args.kms_key_arn
                ),
                # Bucket keys cut KMS request costs; they mean nothing for SSE-S3.
                bucket_key_enabled=kms,
            )
        ],
        opts=child,
    )
    versioning = None
    if args.versioning:
        versioning = aws.s3.BucketVersioning(
            name, bucket=bucket.id, versioning_configuration={"status": "Enabled"}, opts=child
        )
    aws.s3.BucketLifecycleConfiguration(
        name, bucket=bucket.id, rules=_lifecycle_rules(args), opts=pulumi.ResourceOptions.merge(
            child, pulumi.ResourceOptions(depends_on=[versioning] if versioning else [])
        ),
    )  # fmt: skip
    statements = [tls_only_statement(bucket.arn), *args.extra_policy_statements]
    policy = aws.s3.BucketPolicy(
        name,
        bucket=bucket.id,
        policy=pulumi.Output.all(*statements).apply(policy_document),
        # A policy put before the public-access block could be judged public and refused.
        opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[public_block])),
    )
    return SecureBucket(name=policy.bucket, arn=bucket.arn, bucket=bucket, versioning=versioning)


def _lifecycle_rules(args: SecureBucketArgs) -> list[aws.s3.BucketLifecycleConfigurationRuleArgs]:
    every_object = aws.s3.BucketLifecycleConfigurationRuleFilterArgs()
    rules = [
        aws.s3.BucketLifecycleConfigurationRuleArgs(
            id="abort-incomplete-multipart-uploads",
            status="Enabled",
            filter=every_object,
            abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                days_after_initiation=ABORT_MULTIPART_DAYS
            ),
        )
    ]
    if args.noncurrent_version_expiration_days is not None:
        rules.append(
            aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="expire-noncurrent-versions",
                status="Enabled",
                filter=every_object,
                noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                    noncurrent_days=args.noncurrent_version_expiration_days
                ),
            )
        )
    if args.expiration_days is not None:
        rules.append(
            aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="expire-objects",
                status="Enabled",
                filter=every_object,
                expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=args.expiration_days),
            )
        )
    return rules


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

        def data_bucket(purpose: str) -> SecureBucketArgs:
            return SecureBucketArgs(
                bucket=f"{args.name}-{purpose}-{account}",
                tags={**args.tags, "purpose": purpose},
                noncurrent_version_expiration_days=args.noncurrent_version_expiration_days,
                kms_key_arn=args.kms_key_arn,
                protect=args.protect_data,
                retain_on_delete=args.retain_data_on_delete,
            )

        self.uploads = secure_bucket("uploads", data_bucket("uploads"), self)
        self.backups = secure_bucket("backups", data_bucket("backups"), self)
        logs_name = f"{args.name}-logs-{account}"
        logs_arn = f"arn:aws:s3:::{logs_name}"
        self.logs = secure_bucket(
            "logs",
            SecureBucketArgs(
                bucket=logs_name,
                tags={**args.tags, "purpose": "logs"},
                versioning=False,
                expiration_days=args.access_log_expiration_days,
                extra_policy_statements=_alb_log_delivery(logs_arn, account, elb_account),
                # Access logs are not the CRM's data: a teardown may delete this bucket when the
                # stack allows it (force_destroy_logs), so it is never protected or retained.
                protect=False,
                retain_on_delete=False,
                force_destroy=args.force_destroy_logs,
            ),
            self,
        )
        self.replicas = {}
        if args.replica_region and args.kms_key_arn is not None:
            raise ValueError(
                "replication of SSE-KMS buckets needs replica keys, which are not built: use SSE-S3 or no replication"
            )
        if args.replica_region:
            self._replicate(args, account)
        self.register_outputs(
            {
                "uploadsBucket": self.uploads.name,
                "backupsBucket": self.backups.name,
                "logsBucket": self.logs.name,
                **{f"{k}ReplicaBucket": v.name for k, v in self.replicas.items()},
            }
        )

    def _replicate(self, args: BucketsArgs, account: str) -> None:
        assert args.replica_region is not None
        provider = aws.Provider("replica", region=args.replica_region, opts=pulumi.ResourceOptions(parent=self))
        sources = {"backups": self.backups, "uploads": self.uploads}
        for purpose in sources:
            self.replicas[purpose] = secure_bucket(
                f"{purpose}-replica",
                SecureBucketArgs(
                    bucket=f"{args.name}-{purpose}-replica-{account}",
                    tags={**args.tags, "purpose": f"{purpose}-replica"},
                    noncurrent_version_expiration_days=args.noncurrent_version_expiration_days,
                    protect=args.protect_data,
                    retain_on_delete=args.retain_data_on_delete,
                ),
                self,
                provider=provider,
            )
        role = service_role(
            "replication",
            name=f"{args.name}-s3-replication",
            service="s3.amazonaws.com",
            description="S3 replicates the backups and uploads buckets to the replica region",
            tags=args.tags,
            parent=self,
        )
        pairs = [(sources[p].arn, self.replicas[p].arn) for p in sources]
        aws.iam.RolePolicy(
            "replication",
            role=role.id,
            policy=pulumi.Output.all(*[a for pair in pairs for a in pair]).apply(_replication_policy),
            opts=pulumi.ResourceOptions(parent=self),
        )
        for purpose, source in sources.items():
            replica = self.replicas[purpose]
            aws.s3.BucketReplicationConfig(
                purpose,
                bucket=source.bucket.id,
                role=role.arn,
                rules=[
                    {
                        "id": f"{purpose}-to-{args.replica_region}",
                        "status": "Enabled",
                        "filter": {},
                        "delete_marker_replication": {"status": "Enabled"},
                        "destination": {"bucket": replica.arn, "storage_class": "STANDARD"},
                    }
                ],
                # Replication needs versioning on both sides first.
                opts=pulumi.ResourceOptions(
                    parent=self, depends_on=[v for v in (source.versioning, replica.versioning) if v]
                ),
            )


def _replication_policy(arns: list[str]) -> str:
    sources, replicas = arns[0::2], arns[1::2]
    return policy_document(
        [
            {
                "Sid": "ReadReplicationConfiguration",
                "Effect": "Allow",
                "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"],
                "Resource": sources,
            },
            {
                "Sid": "ReadSourceVersions",
                "Effect": "Allow",
                "Action": [
                    "s3:GetObjectVersionForReplication",
                    "s3:GetObjectVersionAcl",
                    "s3:GetObjectVersionTagging",
                ],
                "Resource": [f"{a}/*" for a in sources],
            },
            {
                "Sid": "WriteReplicas",
                "Effect": "Allow",
                "Action": ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
                "Resource": [f"{a}/*" for a in replicas],
            },
        ]
    )


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
