"""Rules on the backups surviving a lost region and a compromised host: Object Lock on the
backups bucket for the recovery window, the data buckets replicated and the data volume's
snapshots copied to another region (prod), and no IAM policy that can destroy versions or
shorten their retention."""

from __future__ import annotations

import fnmatch
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
from .s3 import BACKUPS_BUCKET_SCHEMA, DATA_BUCKETS_SCHEMA, _buckets, bucket_roles, siblings

OBJECT_LOCK = (
    "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
    "aws:s3/bucketObjectLockConfigurationV2:BucketObjectLockConfigurationV2",
)
REPLICATION = ("aws:s3/bucketReplicationConfig:BucketReplicationConfig",)
DLM_POLICY = ("aws:dlm/lifecyclePolicy:LifecyclePolicy",)
IAM_POLICIES = ("aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy", "aws:iam/userPolicy:UserPolicy")
ROLE = ("aws:iam/role:Role",)
BYPASS = "s3:BypassGovernanceRetention"
LOCK_MODES = ("GOVERNANCE", "COMPLIANCE")
# Whoever holds one of these can destroy backup versions or make them expire early.
DESTRUCTIVE = (
    "s3:DeleteObjectVersion",
    "s3:BypassGovernanceRetention",
    "s3:PutObjectRetention",
    "s3:PutObjectLegalHold",
    "s3:PutBucketObjectLockConfiguration",
    "s3:PutLifecycleConfiguration",
    "s3:PutBucketVersioning",
)
WINDOW_SCHEMA: dict[str, Any] = {
    "type": "integer",
    "minimum": 1,
    "default": 30,
    "description": "the stack's recovery window",
}


def _lock_days(lock: PolicyResource) -> float | None:
    retention = get(lock.props, "rule", "defaultRetention")
    days = number(get(retention, "days"))
    years = number(get(retention, "years"))
    return days if days is not None else (years * 365 if years is not None else None)


def _object_lock(args: StackValidationArgs, report: Report) -> None:
    config = args.get_config()
    window = config["recoveryWindowDays"]
    for bucket in _buckets(args, [config["backupsBucket"]]):
        locks = siblings(args, bucket, OBJECT_LOCK)
        if not locks:
            report(f"{label(bucket)} has no Object Lock: a holder of the host's keys could destroy backups", bucket.urn)
        for lock in locks:
            enabled, mode = get(lock.props, "objectLockEnabled"), get(lock.props, "rule", "defaultRetention", "mode")
            days = _lock_days(lock)
            if not is_unknown(enabled) and enabled not in (None, "Enabled"):
                report(f"{label(bucket)}: Object Lock is {enabled!r}, not Enabled", bucket.urn)
            elif not is_unknown(mode) and mode not in LOCK_MODES:
                report(
                    f"{label(bucket)}: Object Lock has no default retention mode (GOVERNANCE or COMPLIANCE)", bucket.urn
                )
            elif days is not None and days < window:
                report(
                    f"{label(bucket)}: Object Lock keeps versions {days:g} days, less than the {window}-day recovery window",
                    bucket.urn,
                )


def _replicated(args: StackValidationArgs, report: Report) -> None:
    config = args.get_config()
    if not is_prod(config):
        return
    for bucket in _buckets(args, list(config["dataBuckets"])):
        if "replica" in bucket_roles(bucket):
            continue
        rules = [r for c in siblings(args, bucket, REPLICATION) for r in items(c.props, "rules")]
        if not any(
            is_unknown(r) or (get(r, "status") in ("Enabled", None) and get(r, "destination", "bucket")) for r in rules
        ):
            report(f"{label(bucket)} holds data in prod but is not replicated to another region", bucket.urn)


def _copy_rules_ok(rule: Any) -> bool:
    retain = number(get(rule, "retainRule", "interval")) or number(get(rule, "retainRule", "count"))
    return bool(get(rule, "target") or get(rule, "targetRegion")) and get(rule, "encrypted") is True and bool(retain)


def _snapshot_copies(args: ResourceValidationArgs, report: Report) -> None:
    if not is_prod(args.get_config()) or get(args.props, "state") == "DISABLED":
        return
    for schedule in items(args.props, "policyDetails", "schedules"):
        if is_unknown(schedule):
            continue
        copies = items(schedule, "crossRegionCopyRules")
        if not any(is_unknown(c) or _copy_rules_ok(c) for c in copies):
            name = get(schedule, "name") or "a schedule"
            report(
                f"{label(args)}: {name} copies no snapshot to another region "
                "(crossRegionCopyRules with a target, encrypted, and a retain rule)"
            )


def _granted(doc: Any, actions: tuple[str, ...]) -> list[tuple[Any, list[str]]]:
    """(statement id, actions of `actions` it allows, wildcards and case included) per Allow statement."""
    found = []
    for n, statement in enumerate(as_list(doc.get("Statement")) if isinstance(doc, dict) else []):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        patterns = [a for a in as_list(statement.get("Action")) if isinstance(a, str)]
        granted = sorted({d for d in actions for p in patterns if fnmatch.fnmatchcase(d.lower(), p.lower())})
        if granted:
            found.append((statement.get("Sid", n), granted))
    return found


def _trusts_ec2(role: PolicyResource) -> bool:
    doc = json_doc(get(role.props, "assumeRolePolicy"))
    statements = as_list(doc.get("Statement")) if isinstance(doc, dict) else []
    return any(
        "ec2.amazonaws.com" in as_list(get(s, "Principal", "Service")) for s in statements if isinstance(s, dict)
    )


def _destructive_grants(args: StackValidationArgs, report: Report) -> None:
    roles = of_type(args, *ROLE)
    for policy in of_type(args, *IAM_POLICIES):
        doc = json_doc(get(policy.props, "policy"))
        if is_unknown(doc):
            continue
        # The host (a role EC2 assumes) runs internet-facing containers: none of it. Any other identity
        # (the deploy role manages bucket settings) still never lifts a lock.
        host = any(refers_to(policy, "role", r, get(r.props, "name")) and _trusts_ec2(r) for r in roles)
        for sid, granted in _granted(doc, DESTRUCTIVE if host else (BYPASS,)):
            who = "the host's role" if host else "its holder"
            report(
                f"{label(policy)}: policy statement {sid} allows {', '.join(granted)}: {who} could destroy "
                "backup versions or shorten their retention",
                policy.urn,
            )


RULES = [
    Rule(
        name="s3-backups-object-lock",
        description="The backups bucket has S3 Object Lock with a default retention (governance or compliance) of at least the recovery window.",
        why="Every base backup and WAL segment of the window must survive a compromised host: under the lock a delete only adds a marker.",
        severity=Severity.HIGH,
        check=_object_lock,
        kind="stack",
        references=("AWS-FSBP S3.15", "checkov CKV_AWS_143"),
        config={"recoveryWindowDays": WINDOW_SCHEMA, "backupsBucket": BACKUPS_BUCKET_SCHEMA},
    ),
    Rule(
        name="s3-data-replicated-in-prod",
        description="In prod the uploads and backups buckets replicate to a bucket in another region.",
        why="A region outage must not take the only copy of the database's backups and the clients' documents.",
        severity=Severity.HIGH,
        check=_replicated,
        kind="stack",
        references=("AWS-FSBP S3.7", "checkov CKV_AWS_144"),
        config={"environment": ENVIRONMENT_SCHEMA, "dataBuckets": DATA_BUCKETS_SCHEMA},
    ),
    Rule(
        name="ebs-snapshots-copied-off-region-in-prod",
        description="In prod every DLM schedule copies its snapshots to another region, encrypted, with a retain rule.",
        why="The data volume's snapshots restore the database fastest; a copy elsewhere survives a region outage.",
        severity=Severity.HIGH,
        check=_snapshot_copies,
        resource_types=DLM_POLICY,
        references=(
            "project rule: no CIS, FSBP or checkov control checks DLM's cross-region copy rules; "
            "the copy is this project's region-down recovery path",
        ),
        config={"environment": ENVIRONMENT_SCHEMA},
    ),
    Rule(
        name="iam-no-backup-destruction",
        description="No IAM policy bypasses S3 governance retention; the host's role (assumed by EC2) may not delete "
        "object versions, set retention or legal holds, or change Object Lock, lifecycle or versioning either.",
        why="Those actions turn a stolen host credential into lost backups; retention deletes are done by lifecycle "
        "expiry. The deploy role manages bucket settings but never lifts a lock.",
        severity=Severity.CRITICAL,
        check=_destructive_grants,
        kind="stack",
        references=(
            "project rule: CIS and FSBP check Object Lock on the bucket, not which identities may lift it; "
            "no checkov check covers these S3 actions",
        ),
    ),
]
