"""The estimate of the real program, both stacks: every line priced, and settings move it exactly."""

from __future__ import annotations

import pytest

from components.config import StackConfig
from ops.cost import estimate as cost
from policies.rules.pricing.estimate import check_budget
from policies.rules.pricing.model import Line
from tests.helpers.cost_programs import real_estimate

# The operator tools driven here read the session's runs of the real program (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("shared_runs")

HOURS = 730
INSTANCE_USD = {"t3.medium": 0.0416, "t3.large": 0.0832, "t3.xlarge": 0.1664, "t4g.large": 0.0672}


def _estimate(stack: str, **overrides: object) -> tuple[cost.Estimate, StackConfig]:
    if not overrides:
        return real_estimate(stack)
    run, config = cost.run_with_config(stack, overrides)
    return cost.estimate(run, config), config


@pytest.fixture(scope="module", params=["staging", "prod"])
def stack_estimate(request: pytest.FixtureRequest):
    return request.param, *_estimate(request.param)


def _lines(est: cost.Estimate, type_: str) -> list[Line]:
    return [line for line in est.lines if line.type == type_]


def test_every_resource_of_both_stacks_is_priced_or_known_free(stack_estimate) -> None:
    _, est, _ = stack_estimate
    assert est.unpriced == []


def test_the_host_is_priced_at_its_configured_type_for_the_hours_it_runs(stack_estimate) -> None:
    _, est, config = stack_estimate
    (hours,) = [line for line in est.lines if line.price_key == f"ec2.instance.{config.instance_type}"]
    # Prod runs all month; staging 14 hours on 5 days a week (07:00-21:00 MON-FRI): 70 of the week's 168 hours.
    expected = HOURS if config.schedule is None else HOURS * 70 / 168
    assert hours.quantity == pytest.approx(expected)
    assert hours.monthly_usd == pytest.approx(expected * INSTANCE_USD[config.instance_type])
    assert ("runs all month" in hours.assumption) is (config.schedule is None)


def test_the_schedule_is_what_moves_staging_off_the_month_long_instance_hours() -> None:
    always, config = _estimate("staging", schedule="always")
    scheduled, _ = _estimate("staging")
    saved = HOURS * (1 - 70 / 168) * INSTANCE_USD[config.instance_type]
    assert always.total_usd - scheduled.total_usd == pytest.approx(saved, abs=0.001)


def test_the_data_volume_and_its_snapshots_follow_the_settings(stack_estimate) -> None:
    _, est, config = stack_estimate
    sizes = [line.quantity for line in _lines(est, "aws:ebs/volume:Volume") if line.price_key == "ebs.gp3.storage"]
    assert config.data_volume_size_gb in sizes
    snapshots = [line for line in est.lines if line.price_key == "ebs.snapshot.standard"]
    size, kept = config.data_volume_size_gb, config.snapshot_retention_days
    # The copies in the replica region (prod) keep as many snapshots as the originals.
    copies = 2 if config.replica_region else 1
    assert [s.quantity for s in snapshots] == [pytest.approx(size * (0.5 + 0.03 * (kept - 1)))] * copies
    assert [s.item.startswith("copies of") for s in snapshots] == [False, True][:copies]


@pytest.mark.parametrize(
    ("type_", "price_key"),
    [
        ("aws:ec2/eip:Eip", "vpc.public_ipv4"),
        ("aws:lb/loadBalancer:LoadBalancer", "elb.alb.hour"),
        ("aws:s3/bucket:Bucket", "s3.standard.storage"),
        ("aws:cloudwatch/metricAlarm:MetricAlarm", "cloudwatch.alarm.standard"),
        ("aws:cloudwatch/logGroup:LogGroup", "cloudwatch.logs.ingest"),
        ("aws:route53/healthCheck:HealthCheck", "route53.health_check.non_aws"),
        ("aws:sns/topic:Topic", "sns.publish"),
        ("aws:dlm/lifecyclePolicy:LifecyclePolicy", "dlm.policy"),
    ],
)
def test_each_platform_type_has_its_priced_line(stack_estimate, type_: str, price_key: str) -> None:
    _, est, config = stack_estimate
    if type_ == "aws:lb/loadBalancer:LoadBalancer" and config.edge == "host":
        assert _lines(est, type_) == []  # staging's edge: host has no ALB to pay for
        return
    assert any(line.price_key == price_key and line.priced for line in _lines(est, type_))


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_the_alb_pays_for_one_public_address_per_subnet(stack: str) -> None:
    est, _ = _estimate(stack, edge="alb")
    (addresses,) = [
        line for line in _lines(est, "aws:lb/loadBalancer:LoadBalancer") if line.price_key == "vpc.public_ipv4"
    ]
    assert addresses.quantity == 2 * HOURS and addresses.monthly_usd == pytest.approx(7.30)


def test_changing_the_instance_type_moves_the_total_by_the_hourly_difference() -> None:
    base, config = _estimate("prod")
    bigger, _ = _estimate("prod", instanceType="t3.xlarge")
    delta = HOURS * (INSTANCE_USD["t3.xlarge"] - INSTANCE_USD[config.instance_type])
    assert bigger.total_usd - base.total_usd == pytest.approx(delta)


def test_changing_the_data_volume_size_moves_volume_and_snapshots_exactly() -> None:
    base, config = _estimate("staging")
    bigger, _ = _estimate("staging", dataVolumeSizeGb=config.data_volume_size_gb + 50)
    kept = config.snapshot_retention_days
    delta = 50 * 0.08 + 50 * (0.5 + 0.03 * (kept - 1)) * 0.05
    assert bigger.total_usd - base.total_usd == pytest.approx(delta)


def test_prod_meets_its_budget() -> None:
    est, config = _estimate("prod")
    assert check_budget(est, config.monthly_budget_usd).ok


def test_staging_meets_its_budget_of_50_and_prod_design_would_not() -> None:
    est, config = _estimate("staging")
    assert config.monthly_budget_usd == 50 and est.total_usd <= 50
    assert check_budget(est, config.monthly_budget_usd).ok
    prod_design, _ = _estimate("staging", edge="alb", schedule="always")
    assert not check_budget(prod_design, config.monthly_budget_usd).ok
