"""The `edge` and `schedule` settings: the plans they make, the errors they refuse, the rules that keep them out of prod."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
import yaml

from components.config import ConfigError
from ops.__main__ import build_parser
from ops.cli import plan
from ops.sim import engine
from tests.conftest import shipped, simulate
from tests.helpers.platform_helpers import ALARM, INGRESS, ROLE, ROLE_POLICY, doc, statements

ROOT = engine.ROOT
P = "quintas-crm-infra"
SCHEDULE = "aws:scheduler/schedule:Schedule"
LOAD_BALANCER_PACKAGES = ("aws:lb/", "aws:alb/", "aws:acm/")
OFFICE = {"days": "MON-FRI", "start": "07:00", "stop": "21:00"}


def _problems(stack: str, **overrides: Any) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        simulate(stack, **overrides)
    assert engine.registered_before(caught.value) == []
    return {p.key: p.allowed for p in caught.value.problems}


# ----------------------------------------------------------------- settings


def test_staging_budget_is_50_and_its_rule_mandatory() -> None:
    from ops.sim import policy
    from policies.rules import rule

    config = policy.load_config("staging")["cost-within-budget"]
    assert config["monthlyBudgetUsd"] == 50 and "enforcementLevel" not in config
    assert rule("cost-within-budget").level.value == "mandatory"


def test_staging_ships_edge_host_and_office_hours_with_the_backup_inside_them() -> None:
    settings = yaml.safe_load((ROOT / "Pulumi.staging.yaml").read_text())["config"]
    assert settings[f"{P}:edge"] == "host"
    assert settings[f"{P}:schedule"] == OFFICE
    assert settings[f"{P}:backupTime"] == "07:30"
    assert settings[f"{P}:monthlyBudgetUsd"] == 50
    prod = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())["config"]
    assert f"{P}:edge" not in prod and f"{P}:schedule" not in prod, "prod keeps the defaults: alb, always"


@pytest.mark.parametrize(
    ("overrides", "key", "says"),
    [
        ({"edge": "nginx"}, "edge", "one of: alb, host"),
        ({"edge": "host", "route53ZoneId": None}, "route53ZoneId", "Traefik obtains its certificates by DNS-01"),
        ({"schedule": "weekdays"}, "schedule", "`always`, or office hours"),
        ({"schedule": {**OFFICE, "days": "MON-THU"}}, "schedule.days", "one of: MON-FRI, MON-SAT, MON-SUN"),
        ({"schedule": {**OFFICE, "start": "7am"}}, "schedule.start", "a 24-hour time HH:MM"),
        ({"schedule": {**OFFICE, "stop": "08:00"}}, "schedule.stop", "at least 85 minutes after start (07:00)"),
        (
            {"backupTime": "02:00"},
            "backupTime",
            "from 07:20 to 20:00, since a stopped host takes no backup; set backupTime to e.g. 07:20",
        ),
        (
            {"timeZone": "America/New_York", "schedule": {**OFFICE, "start": "02:30"}, "backupTime": "03:00"},
            "schedule.start",
            "02:30 does not exist in America/New_York on 2026-03-08 (a DST change skips it)",
        ),
        (
            {"timeZone": "America/New_York", "schedule": {**OFFICE, "start": "01:30"}, "backupTime": "03:00"},
            "schedule.start",
            "01:30 happens twice in America/New_York on 2026-11-01 (a DST change repeats it)",
        ),
    ],
)
def test_a_bad_edge_or_schedule_is_named_with_the_fix(overrides: dict[str, Any], key: str, says: str) -> None:
    problems = _problems("staging", **overrides)
    assert list(problems) == [f"{P}:{key}"]
    assert says in problems[f"{P}:{key}"]


def test_a_schedule_is_read_in_the_stacks_time_zone() -> None:
    run = shipped("staging")
    stop = run.one(SCHEDULE, "host-stop").inputs
    assert (stop["scheduleExpression"], stop["scheduleExpressionTimezone"]) == (
        "cron(0 21 ? * MON-FRI *)",
        "America/Mexico_City",
    )


# ----------------------------------------------------------------- staging's plan: no load balancer, the scheduler


def test_staging_plans_no_load_balancer_nor_its_alarms() -> None:
    run = shipped("staging")
    assert [r.type for r in run.resources if r.type.startswith(LOAD_BALANCER_PACKAGES)] == []
    assert sorted(r.name for r in run.of_type(ALARM)) == [
        "app-health-check",
        "host-instance-check",
        "host-system-check",
    ]
    assert "albDnsName" not in run.outputs and "albZoneId" not in run.outputs
    assert {r.inputs.get("treatMissingData") for r in run.of_type(ALARM) if r.name.startswith("host-")} == {"ignore"}


def test_staging_host_takes_only_https_and_the_redirect_from_the_internet() -> None:
    run = shipped("staging")
    opened = {(r.name, r.inputs["fromPort"], r.inputs.get("cidrIpv4")) for r in run.of_type(INGRESS)}
    assert opened == {("host-in-443", 443, "0.0.0.0/0"), ("host-in-80", 80, "0.0.0.0/0")}
    assert [r.name for r in run.of_type("aws:ec2/securityGroup:SecurityGroup")] == ["host"]


def test_prod_plans_the_alb_the_always_on_host_and_no_internet_rule_on_the_host() -> None:
    run = shipped("prod")
    assert run.one("aws:lb/loadBalancer:LoadBalancer").name == "alb"
    assert run.of_type(SCHEDULE) == []
    host_rules = [r for r in run.of_type(INGRESS) if r.name.startswith("host-in")]
    assert host_rules and all(r.inputs.get("cidrIpv4") is None for r in host_rules)
    assert all("treatMissingData" not in r.inputs for r in run.of_type(ALARM) if r.name.startswith("host-"))


def test_the_schedules_stop_and_start_the_host_and_pause_the_site_check_around_it() -> None:
    run = shipped("staging")
    instance = run.one("aws:ec2/instance:Instance").id
    check = run.one("aws:route53/healthCheck:HealthCheck").id
    found = {r.name: r.inputs for r in run.of_type(SCHEDULE)}
    assert {name: (i["scheduleExpression"], i["target"]["arn"]) for name, i in found.items()} == {
        "checks-pause": ("cron(55 20 ? * MON-FRI *)", "arn:aws:scheduler:::aws-sdk:route53:updateHealthCheck"),
        "host-stop": ("cron(0 21 ? * MON-FRI *)", "arn:aws:scheduler:::aws-sdk:ec2:stopInstances"),
        "host-start": ("cron(0 7 ? * MON-FRI *)", "arn:aws:scheduler:::aws-sdk:ec2:startInstances"),
        "checks-resume": ("cron(20 7 ? * MON-FRI *)", "arn:aws:scheduler:::aws-sdk:route53:updateHealthCheck"),
    }
    payloads = {name: json.loads(engine.reveal(i["target"]["input"])) for name, i in found.items()}
    assert payloads["host-stop"] == payloads["host-start"] == {"InstanceIds": [instance]}
    assert payloads["checks-pause"] == {"HealthCheckId": check, "Disabled": True}
    assert payloads["checks-resume"] == {"HealthCheckId": check, "Disabled": False}
    role = run.one(ROLE, "scheduler")
    assert {i["target"]["roleArn"] for i in found.values()} == {role.outputs["arn"]}
    assert {i["scheduleExpressionTimezone"] for i in found.values()} == {"America/Mexico_City"}


def test_the_scheduler_role_may_stop_and_start_this_host_and_pause_this_check_only() -> None:
    run = shipped("staging")
    trust = doc(run.one(ROLE, "scheduler").inputs["assumeRolePolicy"])
    assert statements(trust)[0]["Principal"] == {"Service": "scheduler.amazonaws.com"}
    instance = run.one("aws:ec2/instance:Instance").id
    check = run.one("aws:route53/healthCheck:HealthCheck").id
    granted = {
        s["Sid"]: (s["Action"], s["Resource"])
        for s in statements(doc(run.one(ROLE_POLICY, "scheduler").inputs["policy"]))
    }
    assert granted == {
        "StopStartTheHost": (
            ["ec2:StartInstances", "ec2:StopInstances"],
            f"arn:aws:ec2:us-east-1:123456789012:instance/{instance}",
        ),
        "PauseTheSiteHealthCheck": (["route53:UpdateHealthCheck"], f"arn:aws:route53:::healthcheck/{check}"),
    }


def test_traefik_may_write_only_the_challenge_txt_records_of_the_stacks_names() -> None:
    run = shipped("staging")
    grant = statements(doc(run.one(ROLE_POLICY, "acme-dns").inputs["policy"]))
    change = next(s for s in grant if s["Action"] == ["route53:ChangeResourceRecordSets"])
    assert change["Resource"] == "arn:aws:route53:::hostedzone/Z0123456789ABCDEFGHIJ"
    assert change["Condition"]["ForAllValues:StringEquals"] == {
        "route53:ChangeResourceRecordSetsNormalizedRecordNames": [
            "_acme-challenge.app.staging.quintas-crm.example",
            "_acme-challenge.cms.staging.quintas-crm.example",
            "_acme-challenge.grafana.staging.quintas-crm.example",
        ],
        "route53:ChangeResourceRecordSetsRecordTypes": ["TXT"],
    }
    assert run.one(ROLE_POLICY, "acme-dns").inputs["role"] == run.one(ROLE, "host").outputs["name"]
    assert [r for r in shipped("prod").of_type(ROLE_POLICY) if r.name == "acme-dns"] == []


def test_traefik_publishes_80_and_443_and_runs_the_acme_resolver_only_with_edge_host() -> None:
    def traefik(run: engine.Run) -> dict[str, Any]:
        return engine.reveal(run.one("docker:index/container:Container", "traefik").inputs)

    staging, prod = traefik(shipped("staging")), traefik(shipped("prod"))
    assert sorted(p["external"] for p in staging["ports"]) == [80, 443, 3000, 8055]
    assert sorted(p["external"] for p in prod["ports"]) == [3000, 8055]
    assert "--certificatesresolvers.letsencrypt.acme.dnschallenge.provider=route53" in staging["command"]
    assert not any("certificatesresolvers" in c for c in prod["command"])
    assert "AWS_HOSTED_ZONE_ID=Z0123456789ABCDEFGHIJ" in staging["envs"]
    uploads = {u["file"]: u["content"] for u in staging["uploads"]}
    routers = yaml.safe_load(uploads["/etc/traefik/dynamic/public-edge.yml"])["http"]["routers"]
    assert {r["rule"]: r["service"] for r in routers.values()} == {
        "Host(`app.staging.quintas-crm.example`)": "frontend-app@docker",
        "Host(`cms.staging.quintas-crm.example`)": "directus-cms@docker",
        "Host(`grafana.staging.quintas-crm.example`)": "grafana-app@docker",
    }


# ----------------------------------------------------------------- prod may use neither


def _plan(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = plan.main(build_parser().parse_args(["plan", *argv]), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    ("overrides", "rule"),
    [
        ({"edge": "host"}, "prod-edge-through-load-balancer"),
        ({"schedule": OFFICE, "backupTime": "07:30"}, "prod-host-runs-always"),
    ],
)
def test_a_prod_settings_file_with_edge_host_or_office_hours_fails_naming_the_rule(
    overrides: dict[str, Any], rule: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    changed = simulate("prod", **overrides)
    monkeypatch.setattr(engine, "run", lambda name: changed)
    code, out, err = _plan("--stack", "prod")
    assert code == 1 and rule in err
    assert f"[mandatory] {rule} " in out


def test_the_edge_error_rate_rule_goes_only_to_a_stack_whose_edge_is_traefik() -> None:
    def rule_files(run: engine.Run) -> set[str]:
        uploads = engine.reveal(run.one("docker:index/container:Container", "prometheus").inputs)["uploads"]
        return {u["file"] for u in uploads if u["file"].startswith("/etc/prometheus/rules/")}

    staging, prod = rule_files(shipped("staging")), rule_files(shipped("prod"))
    assert staging - prod == {"/etc/prometheus/rules/edge.yml"}  # in place of the ALB's 5xx-rate alarm
    assert prod <= staging and "/etc/prometheus/rules/availability.yml" in prod
