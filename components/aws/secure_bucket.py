"""The secure-bucket builder: the only way this program makes an S3 bucket.

Every bucket it makes has the four public-access blocks, BucketOwnerEnforced ownership (ACLs off),
server-side encryption (SSE-S3, or SSE-KMS when a key is given), a policy that denies any request
not made over TLS, and a lifecycle that aborts incomplete multipart uploads after 7 days; versioned
buckets expire old versions and lone delete markers. Object Lock (governance mode) and S3 server
access logging are options. Unsafe choices are named opt-outs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.aws.iam import policy_document

ABORT_MULTIPART_DAYS = 7


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
    object_lock_days: int | None = None
    """S3 Object Lock in governance mode: every new object version is locked this many days, so nobody
    without s3:BypassGovernanceRetention (the host has none) can delete or shorten it; a plain delete
    only adds a delete marker. Needs versioning. None: no lock."""
    access_log_bucket: pulumi.Input[str] | None = None
    """Bucket that receives this bucket's S3 server access logs (who read or wrote what); None: none."""
    access_log_prefix: str = ""
    """Key prefix of those access logs in `access_log_bucket`, e.g. s3-access/uploads/."""


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
    _object_lock(name, args, bucket, versioning, child)
    if args.access_log_bucket is not None:
        aws.s3.BucketLogging(
            name, bucket=bucket.id, target_bucket=args.access_log_bucket, target_prefix=args.access_log_prefix,
            opts=child,
        )  # fmt: skip
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


def _object_lock(
    name: str,
    args: SecureBucketArgs,
    bucket: aws.s3.Bucket,
    versioning: aws.s3.BucketVersioning | None,
    child: pulumi.ResourceOptions,
) -> None:
    if args.object_lock_days is None:
        return
    if versioning is None:
        raise ValueError(f"bucket {name}: Object Lock needs versioning; keep versioning=True or drop object_lock_days")
    # Enabled by this resource, not by the bucket's object_lock_enabled: that input replaces the
    # bucket, while S3 enables Object Lock on an existing versioned bucket in place.
    aws.s3.BucketObjectLockConfiguration(
        name,
        bucket=bucket.id,
        object_lock_enabled="Enabled",
        rule={"default_retention": {"mode": "GOVERNANCE", "days": args.object_lock_days}},
        opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[versioning])),
    )


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
        # A delete (Barman's retention, Directus removing a file) leaves a marker; once the versions
        # behind it have expired the marker is alone and only slows listings.
        rules.append(
            aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="remove-expired-delete-markers",
                status="Enabled",
                filter=every_object,
                expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(expired_object_delete_marker=True),
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
