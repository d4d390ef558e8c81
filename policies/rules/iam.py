"""IAM rules on permission policies (inline, customer managed and attached AWS managed):
no `*` action, no whole-service wildcard, no `*` resource on S3, ECR or Logs actions,
and no administrator-level managed policy."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import ResourceValidationArgs, Severity

from .base import Report, Rule, as_list, get, is_unknown, items, json_doc, label

POLICY_HOLDERS = {
    "aws:iam/policy:Policy": "policy",
    "aws:iam/rolePolicy:RolePolicy": "policy",
    "aws:iam/userPolicy:UserPolicy": "policy",
    "aws:iam/groupPolicy:GroupPolicy": "policy",
}
ROLE = "aws:iam/role:Role"
ATTACHMENTS = (
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:iam/userPolicyAttachment:UserPolicyAttachment",
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
    "aws:iam/policyAttachment:PolicyAttachment",
)
ADMIN_POLICIES = (
    "AdministratorAccess",
    "PowerUserAccess",
    "IAMFullAccess",
    "AmazonS3FullAccess",
    "AmazonEC2FullAccess",
)
DATA_SERVICES = ("s3", "ecr", "logs")
WILDCARD_ARN = re.compile(r"^arn:[^:]+:[^:]+:[^:]*:[^:]*:\*$|^arn:[^:]+:s3:::\*$")


def allow_statements(args: ResourceValidationArgs) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(where, statement) for every Allow statement of the resource's permission policies."""
    docs: list[tuple[str, Any]] = []
    if args.resource_type in POLICY_HOLDERS:
        docs.append(("policy", get(args.props, POLICY_HOLDERS[args.resource_type])))
    if args.resource_type == ROLE:
        for i, inline in enumerate(items(args.props, "inlinePolicies")):
            docs.append((f"inlinePolicies[{i}] {get(inline, 'name') or ''}".strip(), get(inline, "policy")))
    for where, raw in docs:
        doc = json_doc(raw)
        if is_unknown(doc) or not isinstance(doc, Mapping):
            continue
        for i, statement in enumerate(as_list(doc.get("Statement"))):
            if isinstance(statement, Mapping) and statement.get("Effect") == "Allow":
                yield f"{where} statement {statement.get('Sid') or i}", statement


def _no_star_action(args: ResourceValidationArgs, report: Report) -> None:
    for where, statement in allow_statements(args):
        if "*" in as_list(statement.get("Action")):
            report(f"{label(args)}: {where} allows every action (`*`)")
        if "NotAction" in statement:
            report(f"{label(args)}: {where} allows everything except a list (NotAction)")


def _no_service_wildcard(args: ResourceValidationArgs, report: Report) -> None:
    for where, statement in allow_statements(args):
        wide = [a for a in as_list(statement.get("Action")) if isinstance(a, str) and a.endswith(":*")]
        if wide:
            report(f"{label(args)}: {where} allows whole services ({', '.join(wide)})")


def _no_star_resource(args: ResourceValidationArgs, report: Report) -> None:
    allowed = set(args.get_config()["wildcardResourceActions"])
    for where, statement in allow_statements(args):
        resources = [r for r in as_list(statement.get("Resource")) if isinstance(r, str)]
        if not any(r == "*" or WILDCARD_ARN.match(r) for r in resources):
            continue
        actions = [a for a in as_list(statement.get("Action")) if isinstance(a, str)]
        data = [a for a in actions if a.split(":")[0].lower() in DATA_SERVICES and a not in allowed]
        if data:
            report(f"{label(args)}: {where} grants {', '.join(data)} on every resource (`*`)")


def _no_admin_policy(args: ResourceValidationArgs, report: Report) -> None:
    arns = [get(args.props, "policyArn")] + items(args.props, "managedPolicyArns")
    for arn in arns:
        if (
            isinstance(arn, str)
            and not is_unknown(arn)
            and arn.rsplit("/", 1)[-1] in ADMIN_POLICIES
            and ":aws:policy/" in arn
        ):
            report(f"{label(args)} attaches the AWS managed policy {arn.rsplit('/', 1)[-1]}")


RULES = [
    Rule(
        name="iam-no-star-action",
        description="No IAM permission policy allows the action `*` (or uses Allow with NotAction).",
        why="A `*` action makes the holder an administrator: a compromised container would own the account.",
        severity=Severity.CRITICAL,
        check=_no_star_action,
        resource_types=(*POLICY_HOLDERS, ROLE),
        references=("AWS-FSBP IAM.1", "checkov CKV_AWS_63"),
    ),
    Rule(
        name="iam-no-service-wildcard-action",
        description="No IAM permission policy allows a whole service (`s3:*`, `ecr:*`, ...).",
        why="Least privilege: the host needs a handful of actions per service, never DeleteBucket or PutBucketPolicy.",
        severity=Severity.HIGH,
        check=_no_service_wildcard,
        resource_types=(*POLICY_HOLDERS, ROLE),
        references=("AWS-FSBP IAM.21",),
    ),
    Rule(
        name="iam-no-star-resource-on-data-actions",
        description="No IAM permission policy grants S3, ECR or CloudWatch Logs actions on resource `*`.",
        why="The host reaches its own buckets, repositories and log groups only, not every one in the account.",
        severity=Severity.HIGH,
        check=_no_star_resource,
        resource_types=(*POLICY_HOLDERS, ROLE),
        references=("checkov CKV_AWS_355", "checkov CKV_AWS_290"),
        config={
            "wildcardResourceActions": {
                "type": "array",
                "items": {"type": "string"},
                "default": ["ecr:GetAuthorizationToken"],
                "description": "actions AWS only accepts on resource `*`",
            }
        },
    ),
    Rule(
        name="iam-no-admin-managed-policy",
        description="No role, user or group gets AdministratorAccess, PowerUserAccess, IAMFullAccess, AmazonS3FullAccess or AmazonEC2FullAccess.",
        why="These AWS managed policies grant far more than the CRM host or any automation here needs.",
        severity=Severity.CRITICAL,
        check=_no_admin_policy,
        resource_types=(*ATTACHMENTS, ROLE),
        references=("checkov CKV_AWS_274",),
    ),
]
