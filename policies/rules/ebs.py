"""EBS rules: the data volume is encrypted, covered by a DLM snapshot policy and protected in prod."""

from __future__ import annotations

from collections.abc import Mapping

from pulumi_policy import PolicyResource, ResourceValidationArgs, Severity, StackValidationArgs

from .base import ENVIRONMENT_SCHEMA, Report, Rule, get, is_prod, is_unknown, items, label, of_type

VOLUME = ("aws:ebs/volume:Volume",)
DLM_POLICY = ("aws:dlm/lifecyclePolicy:LifecyclePolicy",)


def _encrypted(args: ResourceValidationArgs, report: Report) -> None:
    encrypted = get(args.props, "encrypted")
    if not is_unknown(encrypted) and encrypted is not True:
        report(f"{label(args)} is not encrypted")


def _covers(policy: PolicyResource, tags: Mapping[str, object]) -> bool | None:
    """True/False if the DLM policy targets a volume with these tags; None if unknown at preview."""
    details = get(policy.props, "policyDetails")
    state = get(policy.props, "state")
    if is_unknown(details) or is_unknown(state):
        return None
    if state == "DISABLED":
        return False
    types = items(details, "resourceTypes") or ["VOLUME"]
    if any(is_unknown(t) for t in types) or is_unknown(get(details, "targetTags")):
        return None
    target = get(details, "targetTags")
    if "VOLUME" not in types or not isinstance(target, Mapping) or not target:
        return False
    if not items(details, "schedules"):
        return False
    return all(tags.get(key) == get(target, key) for key in target)


def _snapshot_policy(args: StackValidationArgs, report: Report) -> None:
    policies = of_type(args, *DLM_POLICY)
    for volume in of_type(args, *VOLUME):
        tags = get(volume.props, "tags")
        if is_unknown(tags):
            continue
        tags = tags if isinstance(tags, Mapping) else {}
        covered = [_covers(p, tags) for p in policies]
        if not any(c is None or c for c in covered):
            report(
                f"{label(volume)} is not targeted by any enabled DLM snapshot policy (tags {dict(tags)})", volume.urn
            )


def _protected(args: ResourceValidationArgs, report: Report) -> None:
    if is_prod(args.get_config()) and not args.opts.protect:
        report(f"{label(args)} holds the database in prod but is not protect=True")


RULES = [
    Rule(
        name="ebs-encrypted",
        description="Every EBS volume is encrypted.",
        why="The data volume holds the PostgreSQL cluster: every lot, client, sale and payment.",
        severity=Severity.HIGH,
        check=_encrypted,
        resource_types=VOLUME,
        references=("AWS-FSBP EC2.3", "checkov CKV_AWS_3"),
    ),
    Rule(
        name="ebs-snapshot-policy",
        description="Every EBS volume carries the tags an enabled DLM lifecycle policy with a schedule targets.",
        why="Daily snapshots are the fast way back from a lost or corrupted volume, independent of the S3 backups.",
        severity=Severity.HIGH,
        check=_snapshot_policy,
        kind="stack",
        references=(
            "project rule: FSBP EC2.28 asks for an AWS Backup plan, which does not see DLM policies; "
            "this rule checks the DLM schedule the stack uses instead",
        ),
    ),
    Rule(
        name="ebs-data-volume-protected-in-prod",
        references=("project rule: protect is a Pulumi resource option: no scanner of AWS resources sees it",),
        description="In prod every EBS volume is protect=True.",
        why="Protection makes Pulumi refuse to delete or replace the database volume; retain_on_delete is set too "
        "but the engine does not show it to policies.",
        severity=Severity.CRITICAL,
        check=_protected,
        resource_types=VOLUME,
        config={"environment": ENVIRONMENT_SCHEMA},
    ),
]
