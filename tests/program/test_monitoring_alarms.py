"""Monitoring: alert topic and subscribers, EC2/ALB alarms, the external health check, log groups."""

from __future__ import annotations

from ops.sim import engine
from tests.conftest import simulate
from tests.helpers.platform_helpers import ALARM

SERVICES = (
    "traefik", "socket-proxy", "frontend", "directus", "postgres", "redis", "backup", "prometheus", "alertmanager",
    "grafana", "node-exporter", "cadvisor", "postgres-exporter", "redis-exporter", "blackbox-exporter",
)  # fmt: skip


def _alarm(run: engine.Run, name: str) -> dict:
    return run.one(ALARM, name).inputs


def test_alert_topic_has_one_email_subscription_per_configured_address(staging: engine.Run, prod: engine.Run) -> None:
    for run, emails in (
        (staging, ["ops-staging@quintas-crm.example"]),
        (prod, ["ops@quintas-crm.example", "ventas-oncall@quintas-crm.example"]),
    ):
        topic = run.one("aws:sns/topic:Topic", "alerts")
        subs = run.of_type("aws:sns/topicSubscription:TopicSubscription")
        assert sorted(s.inputs["endpoint"] for s in subs) == emails
        assert {(s.inputs["protocol"], s.inputs["topic"]) for s in subs} == {("email", topic.outputs["arn"])}
        assert run.outputs["alertTopicArn"] == topic.outputs["arn"]


def test_system_status_check_recovers_the_instance_and_notifies(stack_run: engine.Run) -> None:
    alarm = _alarm(stack_run, "host-system-check")
    host = stack_run.one("aws:ec2/instance:Instance", "host")
    assert (alarm["namespace"], alarm["metricName"]) == ("AWS/EC2", "StatusCheckFailed_System")
    assert alarm["dimensions"] == {"InstanceId": host.id}
    assert alarm["alarmActions"] == ["arn:aws:automate:us-east-1:ec2:recover", stack_run.outputs["alertTopicArn"]]
    assert (alarm["comparisonOperator"], alarm["threshold"]) == ("GreaterThanThreshold", 0)


def test_instance_status_check_reboots_and_notifies(stack_run: engine.Run) -> None:
    alarm = _alarm(stack_run, "host-instance-check")
    assert alarm["metricName"] == "StatusCheckFailed_Instance"
    assert alarm["alarmActions"] == ["arn:aws:automate:us-east-1:ec2:reboot", stack_run.outputs["alertTopicArn"]]


def test_unhealthy_targets_alarm_per_target_group_after_two_minutes(alb_run: engine.Run) -> None:
    alb = alb_run.one("aws:lb/loadBalancer:LoadBalancer", "alb")
    for key in ("app", "cms"):
        alarm = _alarm(alb_run, f"{key}-unhealthy")
        group = alb_run.one("aws:lb/targetGroup:TargetGroup", key)
        assert (alarm["namespace"], alarm["metricName"]) == ("AWS/ApplicationELB", "UnHealthyHostCount")
        assert alarm["dimensions"] == {
            "LoadBalancer": alb.outputs["arnSuffix"],
            "TargetGroup": group.outputs["arnSuffix"],
        }
        assert alarm["period"] * alarm["evaluationPeriods"] == 120
        assert (alarm["comparisonOperator"], alarm["threshold"]) == ("GreaterThanThreshold", 0)
        assert alarm["alarmActions"] == [alb_run.outputs["alertTopicArn"]]


def test_5xx_rate_alarm_divides_errors_by_requests(alb_run: engine.Run) -> None:
    alarm = _alarm(alb_run, "alb-5xx-rate")
    queries = {q["id"]: q for q in alarm["metricQueries"]}
    metrics = sorted(q["metric"]["metricName"] for q in queries.values() if "metric" in q)
    assert metrics == ["HTTPCode_ELB_5XX_Count", "HTTPCode_Target_5XX_Count", "RequestCount"]
    rate = queries["rate"]
    assert rate["returnData"] is True
    assert rate["expression"] == "100 * (FILL(httpcodeelb5xxcount, 0) + FILL(httpcodetarget5xxcount, 0)) / requestcount"
    assert (alarm["comparisonOperator"], alarm["threshold"]) == ("GreaterThanThreshold", 5)


def test_route53_health_check_probes_the_public_app_url(stack_run: engine.Run) -> None:
    check = stack_run.one("aws:route53/healthCheck:HealthCheck", "app")
    assert (check.inputs["type"], check.inputs["port"], check.inputs["enableSni"]) == ("HTTPS", 443, True)
    assert f"https://{check.inputs['fqdn']}" == stack_run.outputs["appUrl"]
    assert check.inputs["resourcePath"] == "/api/health"


def test_health_check_alarm_fires_when_the_site_is_down(stack_run: engine.Run) -> None:
    alarm = _alarm(stack_run, "app-health-check")
    check = stack_run.one("aws:route53/healthCheck:HealthCheck", "app")
    assert (alarm["namespace"], alarm["metricName"], alarm["dimensions"]) == (
        "AWS/Route53",
        "HealthCheckStatus",
        {"HealthCheckId": check.id},
    )
    assert (alarm["comparisonOperator"], alarm["threshold"], alarm["treatMissingData"]) == (
        "LessThanThreshold",
        1,
        "breaching",
    )
    assert alarm["alarmActions"] == [stack_run.outputs["alertTopicArn"]]


def test_outside_us_east_1_the_health_check_alarm_and_its_topic_live_in_us_east_1() -> None:
    run = simulate("staging", None, **{"aws:region": "us-west-2"})
    alarm = _alarm(run, "app-health-check")
    topic = run.one("aws:sns/topic:Topic", "alerts-us-east-1")
    assert (alarm["region"], topic.inputs["region"]) == ("us-east-1", "us-east-1")
    assert alarm["alarmActions"] == [topic.outputs["arn"]]
    assert [
        s.inputs["region"] for s in run.of_type("aws:sns/topicSubscription:TopicSubscription") if "us-east-1" in s.name
    ] == ["us-east-1"]


def test_one_log_group_per_service_with_configured_retention(staging: engine.Run, prod: engine.Run) -> None:
    for run, days in ((staging, 14), (prod, 90)):
        monitoring = run.one("quintas:monitoring:Monitoring", "monitoring").urn
        groups = {g.name: g.inputs for g in run.of_type("aws:cloudwatch/logGroup:LogGroup") if g.parent == monitoring}
        assert sorted(groups) == sorted(SERVICES)
        assert {g["name"] for g in groups.values()} == {f"/quintas-crm/{run.stack}/{s}" for s in SERVICES}
        assert {g["retentionInDays"] for g in groups.values()} == {days}


def test_every_alarm_also_reports_recovery(stack_run: engine.Run) -> None:
    alarms = stack_run.of_type(ALARM)
    # Without an ALB (staging's edge: host) its three alarms are not made.
    assert len(alarms) == (6 if stack_run.of_type("aws:lb/loadBalancer:LoadBalancer") else 3)
    assert all(a.inputs["okActions"] == [stack_run.outputs["alertTopicArn"]] for a in alarms)
