"""Firewall: an AWS WAF web ACL on the public ALB, with the logging of what it blocks.

Rules, in the order WAF evaluates them:
1. `login-rate-limit`: a client address (the ALB's view of it) that sends more than
   `login_requests_per_5_minutes` requests to the login endpoints within 5 minutes is
   refused until it slows down: Directus' authentication endpoints (`/auth/` on the CMS
   host: login, refresh, password reset) and Grafana's `/login` on the Grafana host.
2. AWS managed groups: the Amazon IP reputation list, known bad inputs (Log4Shell,
   Java deserialisation, ...) and the common rule set. The common set's
   `SizeRestrictions_BODY` (bodies over 8 KB) only counts: Directus uploads files and
   saves long items through the same ALB, and a rule that blocks every body over 8 KB
   would block them; the ALB's own limits and Directus' MAX_PAYLOAD_SIZE bound bodies.

`mode` is `block`, or `count` for a first week: every rule only counts, the log shows
what would have been blocked, and nothing is. The log group (its name must start with
`aws-waf-logs-`) keeps only requests that a rule blocked or counted, for
`log_retention_days`, encrypted with the telemetry key. Every rule publishes
CloudWatch metrics and sampled requests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_aws as aws

from components.config import StackConfig

SIZE_RULE = "SizeRestrictions_BODY"
MANAGED_GROUPS = (  # (name, priority); the rate rule is priority 0
    ("AWSManagedRulesAmazonIpReputationList", 1),
    ("AWSManagedRulesKnownBadInputsRuleSet", 2),
    ("AWSManagedRulesCommonRuleSet", 3),
)


@dataclass(frozen=True)
class LoginPath:
    """Requests to a login endpoint: a host name and the path they start with."""

    host: str
    """The Host header, e.g. cms.example.com."""
    path_prefix: str
    """The start of the URI path, e.g. /auth/."""


@dataclass
class FirewallArgs:
    name: str
    """Prefix of physical names, e.g. quintas-crm-prod (the web ACL's name and its metrics)."""
    tags: Mapping[str, str]
    """Tags of the web ACL and its log group."""
    load_balancer_arn: pulumi.Input[str]
    """The ALB the web ACL is associated with."""
    logins: Sequence[LoginPath]
    """The login endpoints the rate-based rule watches."""
    log_retention_days: int
    """Days CloudWatch keeps the WAF's log of blocked and counted requests."""
    mode: Literal["block", "count"] = "block"
    """`block`: rules block (default); `count`: rules only count and log, for a first week."""
    login_requests_per_5_minutes: int = 100
    """Requests to the login endpoints one address may send in 5 minutes (WAF's minimum is 10)."""
    log_kms_key_arn: pulumi.Input[str] | None = None
    """KMS key of the WAF's log group (Keys.telemetry_key_arn); None: CloudWatch's default encryption."""

    @classmethod
    def for_stack(
        cls, config: StackConfig, load_balancer_arn: pulumi.Input[str], log_kms_key_arn: pulumi.Input[str] | None
    ) -> FirewallArgs:
        """Rate-limits the Directus authentication endpoints and Grafana's login."""
        return cls(
            name=config.name_prefix,
            tags=config.tags_for("waf"),
            load_balancer_arn=load_balancer_arn,
            logins=(LoginPath(config.cms_host, "/auth/"), LoginPath(config.grafana_host, "/login")),
            log_retention_days=config.log_retention_days,
            mode="count" if config.waf == "count" else "block",
            log_kms_key_arn=log_kms_key_arn,
        )


class Firewall(pulumi.ComponentResource):
    web_acl_arn: pulumi.Output[str]

    def __init__(self, name: str, args: FirewallArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("quintas:waf:Firewall", name, None, opts)
        if not 10 <= args.login_requests_per_5_minutes <= 2_000_000_000:
            raise ValueError(f"login_requests_per_5_minutes must be 10 to 2e9, got {args.login_requests_per_5_minutes}")
        child = pulumi.ResourceOptions(parent=self)
        acl = aws.wafv2.WebAcl(
            "alb",
            name=args.name,
            description=f"{args.name}: login rate limit and AWS managed rules ({args.mode})",
            scope="REGIONAL",
            default_action={"allow": {}},
            rules=[
                _rate_rule(args),
                *[_managed_rule(group, priority, args.mode) for group, priority in MANAGED_GROUPS],
            ],
            visibility_config=_visibility(args.name),
            tags=dict(args.tags),
            opts=child,
        )
        aws.wafv2.WebAclAssociation("alb", resource_arn=args.load_balancer_arn, web_acl_arn=acl.arn, opts=child)
        group = aws.cloudwatch.LogGroup(
            "waf",
            name=f"aws-waf-logs-{args.name}",
            retention_in_days=args.log_retention_days,
            kms_key_id=args.log_kms_key_arn,
            tags=dict(args.tags),
            opts=child,
        )
        kept = ["BLOCK", "COUNT"] if args.mode == "count" else ["BLOCK"]
        aws.wafv2.WebAclLoggingConfiguration(
            "alb",
            resource_arn=acl.arn,
            # WAF wants the group's ARN without the trailing ":*" DescribeLogGroups adds.
            log_destination_configs=[group.arn.apply(lambda a: a.removesuffix(":*"))],
            logging_filter={
                "default_behavior": "DROP",
                "filters": [
                    {
                        "behavior": "KEEP",
                        "requirement": "MEETS_ANY",
                        "conditions": [{"action_condition": {"action": action}} for action in kept],
                    }
                ],
            },
            opts=child,
        )
        self.web_acl_arn = acl.arn
        self.register_outputs({"webAclArn": acl.arn, "logGroup": group.name})


def _visibility(metric: str) -> aws.wafv2.WebAclVisibilityConfigArgsDict:
    return {"cloudwatch_metrics_enabled": True, "metric_name": metric, "sampled_requests_enabled": True}


Scope = aws.wafv2.WebAclRuleStatementRateBasedStatementScopeDownStatementArgsDict


def _login_statement(login: LoginPath) -> Scope:
    lower: list[
        aws.wafv2.WebAclRuleStatementRateBasedStatementScopeDownStatementByteMatchStatementTextTransformationArgsDict
    ] = [{"priority": 0, "type": "LOWERCASE"}]
    return {
        "and_statement": {
            "statements": [
                {
                    "byte_match_statement": {
                        "field_to_match": {"single_header": {"name": "host"}},
                        "positional_constraint": "EXACTLY",
                        "search_string": login.host,
                        "text_transformations": lower,
                    }
                },
                {
                    "byte_match_statement": {
                        "field_to_match": {"uri_path": {}},
                        "positional_constraint": "STARTS_WITH",
                        "search_string": login.path_prefix,
                        "text_transformations": lower,
                    }
                },
            ]
        }
    }


def _rate_rule(args: FirewallArgs) -> aws.wafv2.WebAclRuleArgsDict:
    logins = [_login_statement(login) for login in args.logins]
    scope: Scope = logins[0] if len(logins) == 1 else {"or_statement": {"statements": logins}}
    action: aws.wafv2.WebAclRuleActionArgsDict = {"count": {}} if args.mode == "count" else {"block": {}}
    return {
        "name": "login-rate-limit",
        "priority": 0,
        "action": action,
        "statement": {
            "rate_based_statement": {
                "limit": args.login_requests_per_5_minutes,
                "evaluation_window_sec": 300,
                "aggregate_key_type": "IP",
                "scope_down_statement": scope,
            }
        },
        "visibility_config": _visibility(f"{args.name}-login-rate-limit"),
    }


def _managed_rule(group: str, priority: int, mode: str) -> aws.wafv2.WebAclRuleArgsDict:
    statement: aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementArgsDict = {"vendor_name": "AWS", "name": group}
    if group == "AWSManagedRulesCommonRuleSet":
        statement["rule_action_overrides"] = [{"name": SIZE_RULE, "action_to_use": {"count": {}}}]
    return {
        "name": group,
        "priority": priority,
        # none: the group's own actions apply; count: every rule of the group only counts.
        "override_action": {"count": {}} if mode == "count" else {"none": {}},
        "statement": {"managed_rule_group_statement": statement},
        "visibility_config": _visibility(group),
    }
