"""S3 rules. In pulumi-aws v7 a bucket's settings are sibling resources that name it in
their `bucket` input, so most rules here are stack validations that find each bucket's
siblings by that value or, while it is unknown at preview, by the property dependency."""

from __future__ import annotations

import re
from typing import Any

from pulumi_policy import PolicyResource, ResourceValidationArgs, Severity, StackValidationArgs

from .base import (
    ENVIRONMENT_SCHEMA,
    Report,
    Rule,
    as_list,
    get,
    is_prod,
    is_unknown,
    items,
    json_doc,
    label,
    number,
    of_type,
    refers_to,
)

BUCKET_TYPES = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
VERSIONING = ("aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2")
ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
)
PUBLIC_ACCESS_BLOCK = ("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",)
OWNERSHIP = ("aws:s3/bucketOwnershipControls:BucketOwnershipControls",)
LIFECYCLE = (
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2",
)
BUCKET_POLICY = ("aws:s3/bucketPolicy:BucketPolicy",)

PAB_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
SSE_ALGORITHMS = ("AES256", "aws:kms", "aws:kms:dsse")
COLD_CLASSES = ("GLACIER", "DEEP_ARCHIVE", "GLACIER_IR")

DATA_BUCKETS_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {"type": "string"},
    "default": ["uploads", "backups"],
    "description": "name parts that mark a bucket holding data that must survive (matched against resource and bucket names)",
}
BACKUPS_BUCKET_SCHEMA: dict[str, Any] = {
    "type": "string",
    "default": "backups",
    "description": "name part that marks the backups bucket",
}


def bucket_roles(bucket: PolicyResource) -> set[str]:
    """The words of a bucket's resource name, its parent's name and its physical name."""
    names = [bucket.name, get(bucket.props, "bucket"), get(bucket.props, "bucketPrefix")]
    if bucket.parent is not None:
        names.append(bucket.parent.name)
    return {word for n in names if isinstance(n, str) for word in re.split(r"[^a-z0-9]+", n.lower()) if word}


def siblings(args: StackValidationArgs, bucket: PolicyResource, types: tuple[str, ...]) -> list[PolicyResource]:
    physical = get(bucket.props, "bucket")
    values = [v for v in (physical,) if isinstance(v, str)]
    return [r for r in of_type(args, *types) if refers_to(r, "bucket", bucket, *values)]


def _buckets(args: StackValidationArgs, only: list[str] | None = None) -> list[PolicyResource]:
    found = of_type(args, *BUCKET_TYPES)
    if only is None:
        return found
    return [b for b in found if bucket_roles(b) & set(only)]


def _public_access_block(args: StackValidationArgs, report: Report) -> None:
    for bucket in _buckets(args):
        blocks = siblings(args, bucket, PUBLIC_ACCESS_BLOCK)
        if not blocks:
            report(f"{label(bucket)} has no BucketPublicAccessBlock", bucket.urn)
        for block in blocks:
            off = [f for f in PAB_FLAGS if not is_unknown(get(block.props, f)) and get(block.props, f) is not True]
            if off:
                report(f"{label(bucket)}: the public access block leaves {', '.join(off)} off", bucket.urn)


def _acls_disabled(args: StackValidationArgs, report: Report) -> None:
    for bucket in _buckets(args):
        acl = get(bucket.props, "acl")
        if isinstance(acl, str) and acl != "private":
            report(f"{label(bucket)} sets the canned ACL {acl!r}", bucket.urn)
        owners = [get(c.props, "rule", "objectOwnership") for c in siblings(args, bucket, OWNERSHIP)]
        if not any(o == "BucketOwnerEnforced" or is_unknown(o) for o in owners):
            found = ", ".join(str(o) for o in owners) or "no BucketOwnershipControls"
            report(
                f"{label(bucket)}: object ownership is not BucketOwnerEnforced ({found}), so ACLs still apply",
                bucket.urn,
            )


def _encrypted(args: StackValidationArgs, report: Report) -> None:
    for bucket in _buckets(args):
        algorithms = [
            get(rule, "applyServerSideEncryptionByDefault", "sseAlgorithm")
            for sse in siblings(args, bucket, ENCRYPTION)
            for rule in items(sse.props, "rules")
        ]
        if not any(a in SSE_ALGORITHMS or is_unknown(a) for a in algorithms):
            report(f"{label(bucket)} has no default server-side encryption (SSE-S3 or SSE-KMS)", bucket.urn)


def _denies_insecure_transport(statement: Any) -> bool:
    if not isinstance(statement, dict) or statement.get("Effect") != "Deny":
        return False
    actions = as_list(statement.get("Action"))
    condition = statement.get("Condition") or {}
    secure = (condition.get("Bool") or {}).get("aws:SecureTransport")
    return any(a in ("s3:*", "*") for a in actions) and str(secure).lower() == "false"


def _tls_only(args: StackValidationArgs, report: Report) -> None:
    for bucket in _buckets(args):
        docs = [json_doc(get(p.props, "policy")) for p in siblings(args, bucket, BUCKET_POLICY)]
        if any(is_unknown(d) for d in docs):
            continue
        statements = [s for d in docs if isinstance(d, dict) for s in as_list(d.get("Statement"))]
        if not any(_denies_insecure_transport(s) for s in statements):
            report(
                f"{label(bucket)} has no bucket policy denying requests without TLS (aws:SecureTransport)", bucket.urn
            )


def _versioned(args: StackValidationArgs, report: Report) -> None:
    exempt = set(args.get_config()["unversionedBuckets"])
    for bucket in _buckets(args):
        if bucket_roles(bucket) & exempt:
            continue
        states = [get(v.props, "versioningConfiguration", "status") for v in siblings(args, bucket, VERSIONING)]
        if not any(s == "Enabled" or is_unknown(s) for s in states):
            found = ", ".join(str(s) for s in states) or "no BucketVersioning"
            report(f"{label(bucket)}: versioning is not Enabled ({found})", bucket.urn)


def _enabled_rules(args: StackValidationArgs, bucket: PolicyResource) -> list[Any]:
    return [
        rule
        for lifecycle in siblings(args, bucket, LIFECYCLE)
        for rule in items(lifecycle.props, "rules")
        if get(rule, "status") == "Enabled" or is_unknown(get(rule, "status"))
    ]


def _abort_multipart(args: StackValidationArgs, report: Report) -> None:
    limit = args.get_config()["maxDays"]
    for bucket in _buckets(args):
        days = [get(r, "abortIncompleteMultipartUpload", "daysAfterInitiation") for r in _enabled_rules(args, bucket)]
        if not any(is_unknown(d) or (number(d) or limit + 1) <= limit for d in days):
            report(
                f"{label(bucket)} has no enabled lifecycle rule aborting incomplete multipart uploads within {limit} days",
                bucket.urn,
            )


def _no_force_destroy(args: ResourceValidationArgs, report: Report) -> None:
    if is_prod(args.get_config()) and get(args.props, "forceDestroy") is True:
        report(f"{label(args)} has forceDestroy in prod: deleting the stack would delete its objects")


def _backups_retention(args: StackValidationArgs, report: Report) -> None:
    config = args.get_config()
    window = config["recoveryWindowDays"]
    for bucket in _buckets(args, [config["backupsBucket"]]):
        for rule in _enabled_rules(args, bucket):
            noncurrent = number(get(rule, "noncurrentVersionExpiration", "noncurrentDays"))
            if noncurrent is not None and noncurrent < window:
                report(
                    f"{label(bucket)}: noncurrent versions expire after {noncurrent:g} days, "
                    f"less than the {window}-day recovery window",
                    bucket.urn,
                )
            current = number(get(rule, "expiration", "days"))
            if current is not None and current < window:
                report(
                    f"{label(bucket)}: objects expire after {current:g} days, less than the {window}-day recovery window",
                    bucket.urn,
                )


def _backups_hot(args: StackValidationArgs, report: Report) -> None:
    config = args.get_config()
    for bucket in _buckets(args, [config["backupsBucket"]]):
        for rule in _enabled_rules(args, bucket):
            moves = items(rule, "transitions") + items(rule, "noncurrentVersionTransitions")
            cold = sorted({str(get(t, "storageClass")) for t in moves if get(t, "storageClass") in COLD_CLASSES})
            if cold:
                report(
                    f"{label(bucket)}: a lifecycle rule moves backups to {', '.join(cold)}, too slow to restore within the RTO",
                    bucket.urn,
                )


def _data_buckets_protected(args: StackValidationArgs, report: Report) -> None:
    config = args.get_config()
    if not is_prod(config):
        return
    for bucket in _buckets(args, list(config["dataBuckets"])):
        if not bucket.opts.protect:
            report(f"{label(bucket)} holds data in prod but is not protect=True", bucket.urn)


RULES = [
    Rule(
        name="s3-public-access-block",
        description="Every S3 bucket has a public access block with all four settings on.",
        why="One missing flag is enough for a later ACL or policy change to publish CRM documents or backups.",
        severity=Severity.CRITICAL,
        check=_public_access_block,
        kind="stack",
        references=(
            "AWS-FSBP S3.8",
            "checkov CKV_AWS_53",
            "checkov CKV_AWS_54",
            "checkov CKV_AWS_55",
            "checkov CKV_AWS_56",
        ),
    ),
    Rule(
        name="s3-acls-disabled",
        description="Every S3 bucket has ownership BucketOwnerEnforced (ACLs disabled) and no canned ACL.",
        why="With ACLs disabled, access is decided by IAM and bucket policies alone, which this pack can check.",
        severity=Severity.HIGH,
        check=_acls_disabled,
        kind="stack",
        references=("AWS-FSBP S3.12", "checkov CKV2_AWS_65"),
    ),
    Rule(
        name="s3-encryption",
        description="Every S3 bucket has default server-side encryption (SSE-S3 or SSE-KMS).",
        why="Uploads hold buyers' identity documents and backups hold the whole database.",
        severity=Severity.HIGH,
        check=_encrypted,
        kind="stack",
        references=("AWS-FSBP S3.4", "checkov CKV_AWS_19"),
    ),
    Rule(
        name="s3-tls-only",
        description="Every S3 bucket has a bucket policy that denies requests not made over TLS.",
        why="Without it a client may read or write objects over plain HTTP.",
        severity=Severity.HIGH,
        check=_tls_only,
        kind="stack",
        references=("AWS-FSBP S3.5",),
    ),
    Rule(
        name="s3-versioning",
        description="Every S3 bucket has versioning Enabled, except the ones the config exempts (the logs bucket).",
        why="An overwrite or delete (by a bug, an operator or ransomware) must be recoverable. The logs bucket is "
        "exempt: AWS writes each log object once under a new key and it expires; versions would only double it.",
        severity=Severity.HIGH,
        check=_versioned,
        kind="stack",
        references=("AWS-FSBP S3.14", "checkov CKV_AWS_21"),
        config={
            "unversionedBuckets": {
                "type": "array",
                "items": {"type": "string"},
                "default": ["logs"],
                "description": "name parts of the buckets exempt from versioning, each with its reason in the rule's why",
            }
        },
    ),
    Rule(
        name="s3-abort-incomplete-multipart",
        description="Every S3 bucket has an enabled lifecycle rule that aborts incomplete multipart uploads.",
        why="Abandoned parts of large uploads and backups are billed forever and never show in listings.",
        severity=Severity.LOW,
        check=_abort_multipart,
        kind="stack",
        references=("AWS-FSBP S3.13", "checkov CKV_AWS_300"),
        config={
            "maxDays": {
                "type": "integer",
                "minimum": 1,
                "default": 7,
                "description": "days after which parts are aborted, at most",
            }
        },
    ),
    Rule(
        name="s3-no-force-destroy-in-prod",
        references=(
            "project rule: forceDestroy is a Pulumi provider setting, not an AWS one: no scanner of AWS resources sees it",
        ),
        description="No S3 bucket has forceDestroy in prod.",
        why="forceDestroy lets a `pulumi destroy` or a replacement empty the bucket instead of failing.",
        severity=Severity.CRITICAL,
        check=_no_force_destroy,
        resource_types=BUCKET_TYPES,
        config={"environment": ENVIRONMENT_SCHEMA},
    ),
    Rule(
        name="s3-backups-noncurrent-retention",
        references=(
            "project rule: the retention is measured against this stack's recovery window; FSBP S3.13 only asks for some lifecycle rule",
        ),
        description="The backups bucket keeps noncurrent versions and objects at least as long as the recovery window.",
        why="Point-in-time recovery needs every base backup and WAL segment of the window; an earlier expiry loses them.",
        severity=Severity.HIGH,
        check=_backups_retention,
        kind="stack",
        config={
            "recoveryWindowDays": {
                "type": "integer",
                "minimum": 1,
                "default": 30,
                "description": "the stack's recovery window",
            },
            "backupsBucket": BACKUPS_BUCKET_SCHEMA,
        },
    ),
    Rule(
        name="s3-backups-stay-hot",
        references=(
            "project rule: the limit comes from this project's restore time objective, which no framework knows",
        ),
        description="No lifecycle rule moves the backups bucket's objects to Glacier or Deep Archive.",
        why="A restore from Glacier takes hours before the first byte, beyond the recovery time objective.",
        severity=Severity.MEDIUM,
        check=_backups_hot,
        kind="stack",
        config={"backupsBucket": BACKUPS_BUCKET_SCHEMA},
    ),
    Rule(
        name="s3-data-buckets-protected-in-prod",
        references=("project rule: protect is a Pulumi resource option: no scanner of AWS resources sees it",),
        description="In prod the uploads and backups buckets are protect=True.",
        why="Protection makes Pulumi refuse to delete them; retain_on_delete is set too but the engine does not show it to policies.",
        severity=Severity.HIGH,
        check=_data_buckets_protected,
        kind="stack",
        config={"environment": ENVIRONMENT_SCHEMA, "dataBuckets": DATA_BUCKETS_SCHEMA},
    ),
]
