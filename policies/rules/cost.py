"""The cost rule: the stack's estimated monthly cost is at most its budget.

The estimate comes from the pack's own price book (`pricing/`, shared with
`python -m ops cost`), over plain (type, name, props) with no Pulumi runtime. When
no estimate can be made (the price data is broken) the rule reports itself not
applicable with that reason, so a run never reads as "within budget" without a price.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pulumi_policy import PolicyResource, Severity, StackValidationArgs

from .base import ENVIRONMENT_SCHEMA, Report, Rule, get, is_unknown, items
from .pricing.book import PriceDataError
from .pricing.estimate import estimate_resources


@dataclass(frozen=True)
class CostEstimate:
    total_usd: float
    unpriced: tuple[str, ...] = ()
    source: str = ""


class NoEstimate(Exception):
    """No estimate can be made; the message says why."""


def plain(value: Any) -> Any:
    """A property value as plain dicts and lists, with values unknown at preview as None."""
    if is_unknown(value):
        return None
    if isinstance(value, Mapping):
        return {k: plain(get(value, k)) for k in value}
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return [plain(v) for v in items({"v": value}, "v")]
    return value


def estimate_stack(resources: Sequence[PolicyResource], config: Mapping[str, Any]) -> CostEstimate:
    """The stack's estimate from the pack's price book, over its cloud resources."""
    found = [
        (r.resource_type, r.name, plain(r.props))
        for r in resources
        if not r.resource_type.startswith(("pulumi:", "quintas:"))
    ]
    try:
        estimate = estimate_resources(
            found,
            region=config["region"],
            environment=config["environment"],
            settings={"snapshot_retention_days": config["snapshotRetentionDays"]},
        )
    except PriceDataError as exc:
        raise NoEstimate(f"no cost estimate: {exc}") from exc
    unpriced = tuple(sorted({f"{line.resource} ({line.type})" for line in estimate.unpriced}))
    return CostEstimate(float(estimate.total_usd), unpriced, "policies/rules/pricing")


def _within_budget(args: StackValidationArgs, report: Report) -> None:
    config = args.get_config()
    budget = config.get("monthlyBudgetUsd")
    if budget is None:
        args.not_applicable("no monthlyBudgetUsd in the policy config: set it per stack (policies/config/<stack>.json)")
        return
    try:
        estimate = estimate_stack(args.resources, config)
    except NoEstimate as exc:
        args.not_applicable(str(exc))
        return
    if estimate.unpriced:
        report(
            f"estimated ${estimate.total_usd:.2f}/month is incomplete: not priced: {', '.join(estimate.unpriced)}; "
            "add their prices before the budget can be checked"
        )
    elif estimate.total_usd > budget:
        report(
            f"estimated ${estimate.total_usd:.2f}/month is over the ${budget:.2f} budget "
            f"by ${estimate.total_usd - budget:.2f} (monthlyBudgetUsd)"
        )


RULES = [
    Rule(
        name="cost-within-budget",
        references=("project rule: the budget is this project's setting (monthlyBudgetUsd)",),
        description="The estimated monthly cost of the stack is at most its monthlyBudgetUsd, with every billable resource priced.",
        why="A change that doubles the bill must be a decision reviewed in the pull request, not a surprise on the invoice.",
        severity=Severity.MEDIUM,
        check=_within_budget,
        kind="stack",
        config={
            "monthlyBudgetUsd": {
                "type": "number",
                "exclusiveMinimum": 0,
                "description": "monthly budget in US dollars",
            },
            "region": {"type": "string", "default": "us-east-1", "description": "region whose prices apply"},
            "environment": ENVIRONMENT_SCHEMA,
            "snapshotRetentionDays": {
                "type": "integer",
                "minimum": 1,
                "default": 7,
                "description": "EBS snapshots kept, for their storage",
            },
        },
    ),
]
