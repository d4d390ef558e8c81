"""The cost estimate: unit price and quantity of every priced type, deltas, "not priced", the budget."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from ops.cost import estimate as cost
from ops.sim import engine
from policies.rules.pricing import book as pricing
from policies.rules.pricing.estimate import check_budget
from policies.rules.pricing.model import NOT_PRICED, Item, Line
from tests.helpers.cost_programs import Shape, configured, platform

# The operator tools driven here read the session's runs of the real program (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("shared_runs")

HOURS = 730


def _estimate(stack: str = "prod", program: engine.Program = configured, **overrides: Any) -> cost.Estimate:
    return cost.estimate(*cost.run_with_config(stack, overrides, program=program))


@pytest.fixture(scope="module")
def prod_shape() -> cost.Estimate:
    return _estimate("prod")


def _line(est: cost.Estimate, resource: str, item: str) -> Line:
    found = [line for line in est.lines if line.resource == resource and line.item == item]
    assert len(found) == 1, [(line.resource, line.item) for line in est.lines]
    return found[0]


# The published us-east-1 on-demand prices, written here independently of the data file.
PRICED = [
    ("host", "t3.large instance hours", HOURS, 0.0832),
    ("host", "root volume gp3 storage", 20, 0.08),
    ("host", "detailed monitoring", 7, 0.30),
    ("host", "Elastic IP (public IPv4)", HOURS, 0.005),
    ("data", "volume gp3 storage", 100, 0.08),
    ("snapshots", "lifecycle policy", 1, 0.0),
    # 14 daily snapshots of 100 GB: the first stores the used half, 13 more store 3 GB each.
    ("snapshots", "snapshots of data", 100 * 0.5 + 13 * 3, 0.05),
    ("uploads", "Standard storage", 50, 0.023),
    ("backups", "Standard storage", 150, 0.023),
    ("logs", "Standard storage", 10, 0.023),
    ("backups", "PUT/LIST requests", 50, 0.005),
    ("uploads", "GET requests", 200, 0.0004),
    ("alb", "ALB hours", HOURS, 0.0225),
    ("alb", "ALB capacity units", 0.5 * HOURS, 0.008),
    ("alb", "public IPv4 addresses", 2 * HOURS, 0.005),
    ("alarm-0", "standard alarm", 1, 0.10),
    ("logs-0", "log ingestion", 5 / 4, 0.50),
    ("logs-0", "log storage", 5 / 4 * 90 / (HOURS / 24), 0.03),
    ("app", "HTTPS health check", 1, 0.75),
    ("app", "optional features", 1, 2.00),
    ("alerts", "publishes", 100 / 1e6, 0.50),
    ("alerts", "e-mail deliveries", 100 * 2 / 1e5, 2.00),
    ("data", "customer managed key", 1, 1.00),
    ("data", "requests", 20000 / 1e4, 0.03),
    ("frontend", "image storage", 3, 0.10),
    ("(stack)", "data transfer out to the internet", 50, 0.09),
]


@pytest.mark.parametrize(("resource", "item", "quantity", "unit_usd"), PRICED, ids=[f"{r}:{i}" for r, i, *_ in PRICED])
def test_unit_price_and_quantity_of_each_priced_type(prod_shape, resource, item, quantity, unit_usd) -> None:
    line = _line(prod_shape, resource, item)
    assert line.quantity == pytest.approx(quantity)
    assert line.unit_usd == pytest.approx(unit_usd)
    assert line.monthly_usd == pytest.approx(quantity * unit_usd)


def test_total_is_the_sum_of_the_lines_and_every_line_is_priced(prod_shape) -> None:
    assert prod_shape.unpriced == []
    assert prod_shape.total_usd == pytest.approx(sum(line.monthly_usd or 0 for line in prod_shape.lines))
    assert prod_shape.total_usd == pytest.approx(124.5988, abs=0.01)


def test_a_bigger_instance_type_moves_the_total_by_the_hourly_difference(prod_shape) -> None:
    bigger = _estimate("prod", instanceType="t3.xlarge")
    assert bigger.total_usd - prod_shape.total_usd == pytest.approx(HOURS * (0.1664 - 0.0832))


def test_graviton_instance_is_priced_at_its_own_rate(prod_shape) -> None:
    arm = _estimate("prod", instanceType="t4g.large")
    assert _line(arm, "host", "t4g.large instance hours").monthly_usd == pytest.approx(HOURS * 0.0672)
    assert prod_shape.total_usd - arm.total_usd == pytest.approx(HOURS * (0.0832 - 0.0672))


def test_a_bigger_data_volume_moves_volume_and_snapshot_lines(prod_shape) -> None:
    bigger = _estimate("prod", dataVolumeSizeGb=200)
    storage = 100 * 0.08
    snapshots = 100 * (0.5 + 13 * 0.03) * 0.05  # 100 GB more, in the first snapshot and 13 daily changes
    assert bigger.total_usd - prod_shape.total_usd == pytest.approx(storage + snapshots)


def test_longer_snapshot_retention_adds_the_changed_blocks_of_each_extra_snapshot(prod_shape) -> None:
    longer = _estimate("prod", snapshotRetentionDays=21)
    assert longer.total_usd - prod_shape.total_usd == pytest.approx(7 * 100 * 0.03 * 0.05)


def test_provisioned_iops_and_throughput_above_the_gp3_baseline_are_priced() -> None:
    est = _estimate("prod", program=lambda: platform(Shape(data_iops=6000, data_throughput=250)))
    assert _line(est, "data", "volume IOPS above 3000").monthly_usd == pytest.approx(3000 * 0.005)
    assert _line(est, "data", "volume MiB/s above 125").monthly_usd == pytest.approx(125 * 0.04)


def _pure(*items: Item, environment: str = "prod", region: str = "us-east-1") -> cost.Estimate:
    return cost.estimate_resources(items, region=region, environment=environment)


def test_alarm_kinds_and_health_check_features() -> None:
    est = _pure(
        Item("aws:cloudwatch/metricAlarm:MetricAlarm", "fast", {"period": 10}),
        Item(
            "aws:cloudwatch/metricAlarm:MetricAlarm",
            "math",
            {"metricQueries": [{"metric": {}}, {"metric": {}}, {"expression": "m1/m2"}]},
        ),  # fmt: skip
        Item("aws:cloudwatch/compositeAlarm:CompositeAlarm", "site", {}),
        Item(
            "aws:route53/healthCheck:HealthCheck",
            "alb",
            {"type": "HTTPS_STR_MATCH", "fqdn": "x.elb.amazonaws.com", "requestInterval": 10},
        ),  # fmt: skip
        Item("aws:route53/healthCheck:HealthCheck", "rollup", {"type": "CALCULATED"}),
        Item("aws:route53/zone:Zone", "zone", {"name": "quintas-crm.example"}),
    )
    assert _line(est, "fast", "high-resolution alarm").monthly_usd == pytest.approx(0.30)
    assert _line(est, "math", "standard alarm").monthly_usd == pytest.approx(2 * 0.10)
    assert _line(est, "site", "composite alarm").monthly_usd == pytest.approx(0.50)
    assert _line(est, "alb", "HTTPS_STR_MATCH health check").monthly_usd == pytest.approx(0.50)
    features = _line(est, "alb", "optional features")  # HTTPS, string matching, fast interval
    assert (features.quantity, features.unit_usd) == (3, 1.00)
    assert _line(est, "rollup", "calculated health check").monthly_usd == pytest.approx(0.50)
    assert _line(est, "zone", "hosted zone").monthly_usd == pytest.approx(0.50)


def test_public_addresses_an_instance_without_eip_and_an_internal_alb() -> None:
    est = _pure(
        Item("aws:ec2/instance:Instance", "host", {"instanceType": "t3.medium", "associatePublicIpAddress": True}),
        Item("aws:lb/loadBalancer:LoadBalancer", "internal", {"internal": True, "subnets": ["a", "b"]}),
    )
    assert _line(est, "host", "public IPv4 address").monthly_usd == pytest.approx(HOURS * 0.005)
    assert _line(est, "host", "root volume gp2 storage").quantity == 8  # the AMI's default root volume
    assert not [line for line in est.lines if line.resource == "internal" and "IPv4" in line.item]


def test_a_billable_type_with_no_price_is_listed_as_not_priced(prod_shape) -> None:
    run, config = cost.run_with_config("prod", program=configured)
    items = [*cost.items_from_run(run, config.region), Item("aws:ec2/natGateway:NatGateway", "nat", {})]
    est = cost.estimate_resources(items, region=config.region, environment=config.environment)
    (nat,) = est.unpriced
    assert (nat.resource, nat.item, nat.monthly_usd) == ("nat", NOT_PRICED, None)
    assert "no price" in nat.assumption
    assert est.total_usd == pytest.approx(prod_shape.total_usd)


def test_an_unknown_type_and_an_unknown_volume_type_are_not_priced() -> None:
    est = _pure(
        Item("aws:opensearch/domain:Domain", "search", {}),
        Item("aws:ebs/volume:Volume", "fast", {"size": 100, "type": "io2", "iops": 10000}),
    )
    assert {(line.resource, line.item) for line in est.unpriced} == {("search", NOT_PRICED), ("fast", NOT_PRICED)}
    assert "unknown type" in _line(est, "search", NOT_PRICED).assumption


def test_a_region_with_no_prices_leaves_every_line_not_priced() -> None:
    settings = {"aws:region": "us-west-2", "replicaRegion": "eu-west-1"}
    est = cost.estimate(*cost.run_with_config("prod", settings, program=configured))
    assert est.region == "us-west-2"
    host = _line(est, "host", "t3.large instance hours")
    assert host.monthly_usd is None and "no price ec2.instance.t3.large for us-west-2" in host.assumption
    assert not check_budget(est, 1000).ok


def test_free_types_cost_nothing_and_are_not_flagged() -> None:
    est = _pure(Item("aws:ec2/vpc:Vpc", "vpc", {}), Item("aws:iam/role:Role", "host", {}))
    assert [line.resource for line in est.lines] == ["(stack)"]


def test_every_type_the_simulated_cloud_knows_is_priced_or_known_free() -> None:
    from ops.sim.templates_managed import TEMPLATES as RESOURCES
    from policies.rules.pricing.estimate import ALL_RULES

    book = pricing.load()
    known = set(ALL_RULES) | set(book.free_types) | set(book.unpriced_types)
    missing = sorted(t for t in RESOURCES if not t.startswith("pulumi:") and t not in known)
    assert missing == [], (
        f"price these types in policies/rules/pricing/model.py (managed.py, protection.py) or list them in policies/rules/pricing/prices/aws.yaml: {missing}"
    )


def test_free_tier_is_deducted_only_when_the_assumption_says_so() -> None:
    book = pricing.load()
    common = {**book.assumptions["common"], "deduct_free_tier": True}
    generous = dataclasses.replace(book, assumptions={**book.assumptions, "common": common})
    items = [Item("aws:cloudwatch/metricAlarm:MetricAlarm", f"a{n}", {}) for n in range(12)]
    plain = cost.estimate_resources(items, region="us-east-1", environment="prod")
    free = cost.estimate_resources(items, region="us-east-1", environment="prod", book=generous)
    assert plain.total_usd - free.total_usd == pytest.approx(10 * 0.10 + 50 * 0.09)  # 10 alarms, 50 GB of 100 free


# ----------------------------------------------------------------- the budget, both ways


def test_under_budget_passes(prod_shape) -> None:
    check = check_budget(prod_shape, 130)
    assert check.ok
    assert check.message == "estimated $124.60/month is within the $130.00 budget ($5.40 to spare)"


def test_over_budget_fails_and_states_the_amounts(prod_shape) -> None:
    check = check_budget(prod_shape, 100)
    assert not check.ok
    assert check.message == "estimated $124.60/month is over the $100.00 budget (monthlyBudgetUsd) by $24.60"


def test_an_incomplete_estimate_fails_the_budget_naming_what_is_unpriced() -> None:
    est = _pure(Item("aws:ec2/natGateway:NatGateway", "nat", {}))
    check = check_budget(est, 1000)
    assert not check.ok and "nat (aws:ec2/natGateway:NatGateway)" in check.message


def test_the_estimate_takes_plain_type_name_props_tuples() -> None:
    resources = [("aws:ec2/instance:Instance", "host", {"instanceType": "t3.large"}), ("aws:ec2/vpc:Vpc", "vpc", {})]
    est = cost.estimate_resources(resources, region="us-east-1", environment="prod")
    # t3.large hours + 8 GB gp2 root + 50 GB out: 60.736 + 0.80 + 4.50
    assert check_budget(est, 70).ok
    message = check_budget(est, 60).message
    assert message == "estimated $66.04/month is over the $60.00 budget (monthlyBudgetUsd) by $6.04"
