"""The policy pack's cost rule prices the stack with ops.cost.estimate: offline, at first preview, and its config."""

from __future__ import annotations

import copy
import re

import pytest

from ops.cost import estimate as cost
from ops.sim import engine, policy

# The operator tools driven here read the session's runs of the real program (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("shared_runs")

RULE = "cost-within-budget"


def _findings(run: engine.Run, budget: float, preview: bool = False) -> list[policy.Finding]:
    config = copy.deepcopy(policy.load_config(run.stack))
    config[RULE]["monthlyBudgetUsd"] = budget
    return [f for f in policy.evaluate(run, config, preview=preview) if f.policy == RULE]


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_the_rule_config_matches_the_stack_settings(stack: str) -> None:
    _, config = cost.run_with_config(stack)
    settings = policy.load_config(stack)[RULE]
    assert settings["monthlyBudgetUsd"] == config.monthly_budget_usd
    assert settings["environment"] == config.environment
    assert settings.get("region", "us-east-1") == config.region
    assert settings["snapshotRetentionDays"] == config.snapshot_retention_days


def test_within_budget_the_rule_passes(prod: engine.Run) -> None:
    assert _findings(prod, cost.estimate(prod).total_usd + 1) == []


def test_over_budget_the_rule_fails_with_the_estimated_amounts(prod: engine.Run) -> None:
    total = cost.estimate(prod).total_usd
    (finding,) = _findings(prod, 100)
    assert finding.level == "mandatory"
    assert f"estimated ${total:.2f}/month is over the $100.00 budget by ${total - 100:.2f}" in finding.message


def test_at_first_preview_the_rule_still_prices_the_stack(prod: engine.Run) -> None:
    """Values computed from other resources are unknown then; the estimate stays within a dollar."""
    total = cost.estimate(prod).total_usd
    (finding,) = _findings(prod, 100, preview=True)
    match = re.search(r"estimated \$([0-9.]+)/month is over the \$100.00 budget by \$([0-9.]+)", finding.message)
    assert match, finding.message
    assert float(match[1]) == pytest.approx(total, abs=1.0)
    assert float(match[2]) == pytest.approx(float(match[1]) - 100, abs=0.011)
