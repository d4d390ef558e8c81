"""What protects the stack beyond its buckets: the WAF on the ALB (prod), the telemetry KMS key of
the log groups and the alert topic, the VPC flow log, and the data volume's snapshots copied to the
replica region (prod)."""

from __future__ import annotations

import pytest

from components.config import ConfigError
from ops.sim import engine
from tests.conftest import simulate
from tests.helpers.platform_helpers import ROLE_POLICY, doc, statement

WEB_ACL = "aws:wafv2/webAcl:WebAcl"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
DLM = "aws:dlm/lifecyclePolicy:LifecyclePolicy"


def _rules(run: engine.Run) -> dict[str, dict]:
    return {r["name"]: r for r in run.one(WEB_ACL, "alb").inputs["rules"]}


def test_prod_alb_is_behind_a_regional_web_acl(prod: engine.Run) -> None:
    acl = prod.one(WEB_ACL, "alb")
    association = prod.one("aws:wafv2/webAclAssociation:WebAclAssociation", "alb")
    assert acl.inputs["scope"] == "REGIONAL" and acl.inputs["defaultAction"] == {"allow": {}}
    assert association.inputs["resourceArn"] == prod.one("aws:lb/loadBalancer:LoadBalancer", "alb").outputs["arn"]
    assert association.inputs["webAclArn"] == acl.outputs["arn"]


def test_the_rate_rule_watches_the_directus_auth_endpoints_and_the_grafana_login(prod: engine.Run) -> None:
    rule = _rules(prod)["login-rate-limit"]
    rate = rule["statement"]["rateBasedStatement"]
    assert (rule["priority"], rule["action"]) == (0, {"block": {}})
    assert (rate["limit"], rate["evaluationWindowSec"], rate["aggregateKeyType"]) == (100, 300, "IP")
    watched = [
        [s["byteMatchStatement"]["searchString"] for s in login["andStatement"]["statements"]]
        for login in rate["scopeDownStatement"]["orStatement"]["statements"]
    ]
    assert watched == [["cms.quintas-crm.example", "/auth/"], ["grafana.quintas-crm.example", "/login"]]


def test_managed_groups_block_but_large_bodies_only_count(prod: engine.Run) -> None:
    rules = _rules(prod)
    groups = ["AWSManagedRulesAmazonIpReputationList", "AWSManagedRulesKnownBadInputsRuleSet", "AWSManagedRulesCommonRuleSet"]  # fmt: skip
    assert [name for name in rules if name != "login-rate-limit"] == groups
    assert all(rules[g]["overrideAction"] == {"none": {}} for g in groups)
    common = rules["AWSManagedRulesCommonRuleSet"]["statement"]["managedRuleGroupStatement"]
    assert common["ruleActionOverrides"] == [{"name": "SizeRestrictions_BODY", "actionToUse": {"count": {}}}]
    assert all(r["visibilityConfig"]["cloudwatchMetricsEnabled"] for r in rules.values())


def test_the_waf_logs_only_what_it_blocks_into_an_encrypted_group(prod: engine.Run) -> None:
    logging = prod.one("aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration", "alb").inputs
    group = prod.one(LOG_GROUP, "waf")
    assert group.inputs["name"] == "aws-waf-logs-quintas-crm-prod" and group.inputs["retentionInDays"] == 90
    assert group.inputs["kmsKeyId"] == prod.one("aws:kms/key:Key", "telemetry").outputs["arn"]
    assert logging["logDestinationConfigs"] == [group.outputs["arn"]]
    (keep,) = logging["loggingFilter"]["filters"]
    assert logging["loggingFilter"]["defaultBehavior"] == "DROP"
    assert keep["conditions"] == [{"actionCondition": {"action": "BLOCK"}}]


def test_count_mode_for_a_first_week_blocks_nothing_and_logs_what_it_would() -> None:
    run = simulate("prod", waf="count")
    rules = {r["name"]: r for r in run.one(WEB_ACL, "alb").inputs["rules"]}
    assert rules.pop("login-rate-limit")["action"] == {"count": {}}
    assert all(r["overrideAction"] == {"count": {}} for r in rules.values())
    (keep,) = run.one("aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration", "alb").inputs["loggingFilter"][
        "filters"
    ]
    assert [c["actionCondition"]["action"] for c in keep["conditions"]] == ["BLOCK", "COUNT"]


def test_staging_has_no_waf_unless_its_settings_ask(staging: engine.Run) -> None:
    assert not staging.of_type(WEB_ACL)
    assert simulate("staging", edge="alb", waf="block").one(WEB_ACL, "alb").inputs["scope"] == "REGIONAL"


def test_an_unknown_waf_mode_is_refused_by_name() -> None:
    with pytest.raises(ConfigError) as caught:
        simulate("prod", waf="on")
    assert caught.value.keys == ["quintas-crm-infra:waf"]
    assert "one of: block, count, off" in str(caught.value)


def test_every_log_group_and_the_alert_topic_use_the_rotating_telemetry_key(stack_run: engine.Run) -> None:
    key = stack_run.one("aws:kms/key:Key", "telemetry")
    assert key.inputs["enableKeyRotation"] is True
    groups = stack_run.of_type(LOG_GROUP)
    assert len(groups) >= 15 and {g.inputs.get("kmsKeyId") for g in groups} == {key.outputs["arn"]}
    assert stack_run.one("aws:sns/topic:Topic", "alerts").inputs["kmsMasterKeyId"] == key.outputs["arn"]


def test_the_key_policy_lets_logs_cloudwatch_and_sns_use_the_key_and_nobody_else(stack_run: engine.Run) -> None:
    policy = doc(stack_run.one("aws:kms/key:Key", "telemetry").inputs["policy"])
    principals = {s["Sid"]: s["Principal"] for s in policy["Statement"]}
    assert principals == {
        "AccountManagesTheKeyThroughIam": {"AWS": "arn:aws:iam::123456789012:root"},
        "CloudWatchLogsEncryptsTheStacksLogGroups": {"Service": "logs.us-east-1.amazonaws.com"},
        "CloudWatchAlarmsAndSnsUseTheAlertTopic": {"Service": ["cloudwatch.amazonaws.com", "sns.amazonaws.com"]},
    }
    logs = statement(policy, "CloudWatchLogsEncryptsTheStacksLogGroups")
    assert logs["Condition"] == {
        "ArnLike": {"kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:us-east-1:123456789012:log-group:*"}
    }


def test_the_vpc_flow_log_records_rejected_traffic_for_the_log_retention(stack_run: engine.Run) -> None:
    flow = stack_run.one("aws:ec2/flowLog:FlowLog", "vpc").inputs
    group = stack_run.one(LOG_GROUP, "flow-log")
    days = 90 if stack_run.stack == "prod" else 14
    assert (flow["trafficType"], flow["logDestinationType"]) == ("REJECT", "cloud-watch-logs")
    assert flow["vpcId"] == stack_run.one("aws:ec2/vpc:Vpc", "vpc").id
    assert flow["logDestination"] == group.outputs["arn"] and group.inputs["retentionInDays"] == days
    role = stack_run.one("aws:iam/role:Role", "flow-log")
    assert flow["iamRoleArn"] == role.outputs["arn"]
    write = statement(doc(stack_run.one(ROLE_POLICY, "flow-log").inputs["policy"]), "WriteTheFlowLog")
    assert write["Resource"] == [group.outputs["arn"], f"{group.outputs['arn']}:log-stream:*"]


def test_prod_copies_each_snapshot_encrypted_to_the_replica_region(prod: engine.Run, staging: engine.Run) -> None:
    (schedule,) = prod.one(DLM, "daily").inputs["policyDetails"]["schedules"]
    assert schedule["crossRegionCopyRules"] == [
        {"target": "us-west-2", "encrypted": True, "copyTags": True, "retainRule": {"interval": 14, "intervalUnit": "DAYS"}}
    ]  # fmt: skip
    (schedule,) = staging.one(DLM, "daily").inputs["policyDetails"]["schedules"]
    assert schedule.get("crossRegionCopyRules", []) == []


def test_dlm_may_copy_tag_and_expire_its_snapshots_in_the_replica_region(prod: engine.Run) -> None:
    policy = doc(prod.one(ROLE_POLICY, "dlm").inputs["policy"])
    both = ["arn:aws:ec2:us-east-1::snapshot/*", "arn:aws:ec2:us-west-2::snapshot/*"]
    assert statement(policy, "CopySnapshotsToTheCopyRegion")["Resource"] == both
    assert statement(policy, "ExpireOwnSnapshots")["Resource"] == both
    assert statement(policy, "SnapshotTheDataVolume")["Resource"][1] == "arn:aws:ec2:us-east-1::snapshot/*"


def test_a_stack_outside_us_east_1_encrypts_its_health_check_topic_with_a_key_there() -> None:
    """The health-check alarm's topic must be in us-east-1, and a key is regional: it gets its own."""
    from ops.sim import policy

    run = simulate("staging", None, **{"aws:region": "us-west-2"})
    key = run.one("aws:kms/key:Key", "telemetry-us-east-1")
    assert (key.inputs["region"], key.inputs["enableKeyRotation"]) == ("us-east-1", True)
    assert run.one("aws:sns/topic:Topic", "alerts-us-east-1").inputs["kmsMasterKeyId"] == key.outputs["arn"]
    home = run.one("aws:kms/key:Key", "telemetry")
    assert (
        "region" not in home.inputs
        and run.one("aws:sns/topic:Topic", "alerts").inputs["kmsMasterKeyId"] == (home.outputs["arn"])
    )
    assert policy.mandatory(policy.evaluate(run)) == []
