"""Replication of the data buckets to a second region: replica buckets of the same shape, made
through an aws.Provider of that region, the role S3 replicates with, and one replication rule per
bucket. Called by Buckets (the replicas are its children); knows nothing of what the buckets hold.

A source under Object Lock replicates its lock too: the replica gets the same governance-mode lock,
and the role may read each version's retention and legal hold.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws.iam import policy_document, service_role
from components.aws.secure_bucket import SecureBucket, SecureBucketArgs, secure_bucket


@dataclass(frozen=True)
class Source:
    """A bucket to replicate and the settings its replica copies."""

    bucket: SecureBucket
    """The source bucket (versioned)."""
    object_lock_days: int | None
    """Its Object Lock retention, repeated on the replica; None: no lock."""


def replicate(
    parent: pulumi.Resource,
    *,
    name: str,
    account: str,
    region: str,
    sources: Mapping[str, Source],
    template: SecureBucketArgs,
) -> dict[str, SecureBucket]:
    """A replica per source (purpose -> bucket) in `region`, shaped like `template`, and the replication rules."""
    provider = aws.Provider("replica", region=region, opts=pulumi.ResourceOptions(parent=parent))
    replicas = {
        purpose: _replica(parent, f"{name}-{purpose}-replica-{account}", purpose, source, template, provider)
        for purpose, source in sources.items()
    }
    role = service_role(
        "replication",
        name=f"{name}-s3-replication",
        service="s3.amazonaws.com",
        description="S3 replicates the backups and uploads buckets to the replica region",
        tags=template.tags,
        parent=parent,
    )
    pairs = [(sources[p].bucket.arn, replicas[p].arn) for p in sources]
    aws.iam.RolePolicy(
        "replication",
        role=role.id,
        policy=pulumi.Output.all(*[a for pair in pairs for a in pair]).apply(replication_policy),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    for purpose, source in sources.items():
        replica = replicas[purpose]
        aws.s3.BucketReplicationConfig(
            purpose,
            bucket=source.bucket.bucket.id,
            role=role.arn,
            rules=[
                {
                    "id": f"{purpose}-to-{region}",
                    "status": "Enabled",
                    "filter": {},
                    "delete_marker_replication": {"status": "Enabled"},
                    "destination": {"bucket": replica.arn, "storage_class": "STANDARD"},
                }
            ],
            # Replication needs versioning on both sides first.
            opts=pulumi.ResourceOptions(
                parent=parent, depends_on=[v for v in (source.bucket.versioning, replica.versioning) if v]
            ),
        )
    return replicas


def _replica(
    parent: pulumi.Resource,
    bucket: str,
    purpose: str,
    source: Source,
    template: SecureBucketArgs,
    provider: aws.Provider,
) -> SecureBucket:
    return secure_bucket(
        f"{purpose}-replica",
        SecureBucketArgs(
            bucket=bucket,
            tags={**template.tags, "purpose": f"{purpose}-replica"},
            noncurrent_version_expiration_days=template.noncurrent_version_expiration_days,
            protect=template.protect,
            retain_on_delete=template.retain_on_delete,
            object_lock_days=source.object_lock_days,
        ),
        parent,
        provider=provider,
    )


def replication_policy(arns: list[str]) -> str:
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
                    # Object Lock: the replica keeps each version's retention and legal hold.
                    "s3:GetObjectRetention",
                    "s3:GetObjectLegalHold",
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
