"""WAF rules: in prod the public ALB has a web ACL with a rate-based rule and the AWS managed
rule groups, and the web ACL logs what it blocks."""

from __future__ import annotations

from typing import Any

from pulumi_policy import PolicyResource, Severity, StackValidationArgs

from .base import ENVIRONMENT_SCHEMA, Report, Rule, get, is_prod, is_unknown, items, label, of_type, refers_to

LOAD_BALANCER = ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")
WEB_ACL = ("aws:wafv2/webAcl:WebAcl",)
ASSOCIATION = ("aws:wafv2/webAclAssociation:WebAclAssociation",)
LOGGING = ("aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration",)
GROUPS_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {"type": "string"},
    "default": ["AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"],
    "description": "AWS managed rule groups every web ACL must use",
}


def _public_albs(args: StackValidationArgs) -> list[PolicyResource]:
    return [
        lb
        for lb in of_type(args, *LOAD_BALANCER)
        if get(lb.props, "internal") is not True and get(lb.props, "loadBalancerType") in (None, "application")
    ]


def _associated(args: StackValidationArgs, report: Report) -> None:
    if not is_prod(args.get_config()):
        return
    for lb in _public_albs(args):
        if not any(refers_to(a, "resourceArn", lb, get(lb.props, "arn")) for a in of_type(args, *ASSOCIATION)):
            report(f"{label(lb)} faces the internet in prod with no WAF web ACL associated", lb.urn)


def _rule_kinds(acl: PolicyResource) -> tuple[bool, set[str], bool]:
    """(has a rate-based rule, managed groups used, some rule unknown)."""
    rate, groups, unknown = False, set(), False
    for rule in items(acl.props, "rules"):
        statement = get(rule, "statement")
        if is_unknown(rule) or is_unknown(statement):
            unknown = True
            continue
        rate = rate or get(statement, "rateBasedStatement") is not None
        group = get(statement, "managedRuleGroupStatement", "name")
        if isinstance(group, str):
            groups.add(group)
    return rate, groups, unknown


def _rules(args: StackValidationArgs, report: Report) -> None:
    wanted = list(args.get_config()["managedRuleGroups"])
    for acl in of_type(args, *WEB_ACL):
        rate, groups, unknown = _rule_kinds(acl)
        if unknown:
            continue
        if not rate:
            report(f"{label(acl)} has no rate-based rule: password guessing on the logins is not slowed", acl.urn)
        missing = [g for g in wanted if g not in groups]
        if missing:
            report(f"{label(acl)} does not use the managed rule group(s) {', '.join(missing)}", acl.urn)


def _logged(args: StackValidationArgs, report: Report) -> None:
    for acl in of_type(args, *WEB_ACL):
        metrics = get(acl.props, "visibilityConfig", "cloudwatchMetricsEnabled")
        if metrics is False:
            report(f"{label(acl)} publishes no CloudWatch metrics", acl.urn)
        if not any(refers_to(c, "resourceArn", acl, get(acl.props, "arn")) for c in of_type(args, *LOGGING)):
            report(f"{label(acl)} has no logging configuration: blocked requests leave no record", acl.urn)


RULES = [
    Rule(
        name="waf-on-public-alb-in-prod",
        description="In prod every internet-facing application load balancer is associated with a WAF web ACL.",
        why="The Directus admin login and Grafana's login are on the internet; the WAF limits guessing and known attacks.",
        severity=Severity.HIGH,
        check=_associated,
        kind="stack",
        references=("AWS-FSBP ELB.16", "checkov CKV2_AWS_28"),
        config={"environment": ENVIRONMENT_SCHEMA},
    ),
    Rule(
        name="waf-rules",
        description="Every WAF web ACL has a rate-based rule and uses the AWS managed common and known-bad-inputs rule groups.",
        why="The rate rule slows password guessing; the managed groups stop Log4Shell-style inputs and common exploits.",
        severity=Severity.MEDIUM,
        check=_rules,
        kind="stack",
        references=("AWS-FSBP WAF.10", "checkov CKV_AWS_192"),
        config={"managedRuleGroups": GROUPS_SCHEMA},
    ),
    Rule(
        name="waf-logging",
        description="Every WAF web ACL has a logging configuration and publishes CloudWatch metrics.",
        why="A blocked login or upload must be explainable afterwards, and a count-mode week is judged from its log.",
        severity=Severity.LOW,
        check=_logged,
        kind="stack",
        references=("AWS-FSBP WAF.11", "checkov CKV2_AWS_31"),
    ),
]
