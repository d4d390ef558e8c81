"""The `ecs` topology's prices: Fargate tasks, RDS (Multi-AZ as a second instance and copy), ElastiCache
nodes and Container Insights, checked against the published us-east-1 prices written here
independently of the data file; and docs/cost.md showing both topologies of both stacks."""

from __future__ import annotations

from pathlib import Path

import pytest

from ops.cost import estimate as cost
from policies.rules.pricing.model import Line
from tests.conftest import shipped

# The operator tools driven here read the session's runs of the real program (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("shared_runs")

HOURS = 730
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def prod_ecs() -> cost.Estimate:
    return cost.estimate(shipped("prod-ecs"))


def _line(est: cost.Estimate, resource: str, item: str) -> Line:
    (found,) = [line for line in est.lines if line.resource == resource and line.item == item]
    return found


PRICED = [
    # 2 tasks (the prod minimum) of 1 vCPU and 2 GB each, all month, each with a public address.
    ("frontend", "Fargate vCPU (1 per task)", 2 * 1 * HOURS, 0.04048),
    ("directus", "Fargate memory (2 GB)", 2 * 2 * HOURS, 0.004445),
    ("directus", "public IPv4 addresses", 2 * HOURS, 0.005),
    ("postgres", "db.t4g.medium instance hours", HOURS, 0.065),
    ("postgres", "Multi-AZ standby instance hours", HOURS, 0.065),
    ("postgres", "gp3 storage", 100, 0.115),
    ("postgres", "Multi-AZ standby storage", 100, 0.115),
    # 30 days of backups: the used half plus 3% a day is 140 GB; the first 100 GB (the allocation) are free.
    ("postgres", "backup storage above the free allowance", 40, 0.095),
    ("redis", "cache.t4g.small node hours", 2 * HOURS, 0.032),
    # Container Insights: 8 metrics for the cluster and each of its 2 services.
    ("cluster", "Container Insights metrics", 8 * 3, 0.30),
]


@pytest.mark.parametrize(("resource", "item", "quantity", "unit_usd"), PRICED, ids=[f"{r}-{i}" for r, i, *_ in PRICED])
def test_unit_price_and_quantity_of_the_managed_services(
    prod_ecs: cost.Estimate, resource: str, item: str, quantity: float, unit_usd: float
) -> None:
    line = _line(prod_ecs, resource, item)
    assert (line.quantity, line.unit_usd) == (pytest.approx(quantity), unit_usd)
    assert line.monthly_usd == pytest.approx(quantity * unit_usd)


def test_every_resource_of_both_ecs_stacks_is_priced_or_known_free() -> None:
    for stack in ("staging-ecs", "prod-ecs"):
        est = cost.estimate(shipped(stack))
        assert est.unpriced == [], [(line.resource, line.assumption) for line in est.unpriced]


def test_staging_has_one_node_and_no_standby() -> None:
    est = cost.estimate(shipped("staging-ecs"))
    items = {(line.resource, line.item) for line in est.lines}
    assert ("postgres", "Multi-AZ standby instance hours") not in items
    assert _line(est, "redis", "cache.t4g.micro node hours").quantity == HOURS
    assert _line(est, "frontend", "Fargate vCPU (1 per task)").quantity == HOURS  # one task


def test_docs_cost_md_shows_both_topologies_of_both_stacks() -> None:
    text = (ROOT / "docs" / "cost.md").read_text()
    assert "## Topologies side by side" in text
    for environment in ("prod", "staging"):
        host = cost.estimate(shipped(environment)).total_usd
        ecs = cost.estimate(shipped(f"{environment}-ecs")).total_usd
        assert f"| **total** | **${host:,.2f}** | **${ecs:,.2f}** |" in text, environment
