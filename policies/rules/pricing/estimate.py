"""The estimate: monthly cost of a stack's cloud resources, priced from the price book.

Pure Python over (type, name, props) and the data file (PyYAML only), with no
Pulumi runtime: the policy pack's cost rule calls it when served by the Pulumi
CLI, and `python -m ops cost` calls it on the resources of a simulated run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import book as pricing
from . import protection
from .managed import PRICE_RULES
from .model import NOT_PRICED, Item, Line, Pricer, not_priced, stack_lines

SKIPPED_PACKAGES = ("pulumi", "quintas")  # the stack, providers and our components: no cloud resource
ALL_RULES = {**PRICE_RULES, **protection.RULES}  # managed services (ecs), and the DLM rule with cross-region copies


@dataclass(frozen=True)
class Estimate:
    stack: str
    region: str
    environment: str
    lines: tuple[Line, ...]
    assumptions: Mapping[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def total_usd(self) -> float:
        return sum(line.monthly_usd or 0.0 for line in self.lines)

    @property
    def unpriced(self) -> list[Line]:
        return [line for line in self.lines if not line.priced]

    def plan_json(self) -> dict[str, Any]:
        """The `cost` key of `ops plan --json`."""
        return {"total_usd": round(self.total_usd, 2), "lines": [line.to_json() for line in self.lines]}

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "region": self.region,
            "environment": self.environment,
            **self.plan_json(),
            "not_priced": [line.to_json() for line in self.unpriced],
            "assumptions": dict(self.assumptions),
            "notes": list(self.notes),
        }


def as_item(resource: Item | tuple[str, str, Mapping[str, Any]]) -> Item:
    return resource if isinstance(resource, Item) else Item(resource[0], resource[1], resource[2])


def estimate_resources(
    resources: Iterable[Item | tuple[str, str, Mapping[str, Any]]],
    *,
    region: str,
    environment: str,
    stack: str = "",
    settings: Mapping[str, Any] | None = None,
    book: pricing.PriceBook | None = None,
) -> Estimate:
    """Price (type, name, props) resources; `settings` holds fallbacks such as snapshot_retention_days."""
    book = book or pricing.load()
    usage = book.usage(environment)
    items = [i for i in map(as_item, resources) if i.type.split(":", 1)[0] not in SKIPPED_PACKAGES]
    # Registration order varies from run to run; the estimate reads in a fixed order.
    rank = {t: n for n, t in enumerate(ALL_RULES)}
    items.sort(key=lambda i: (rank.get(i.type, len(rank)), i.type, i.name))
    p = Pricer(book, region, usage, items, settings or {})
    lines: list[Line] = []
    for it in items:
        rule = ALL_RULES.get(it.type)
        if rule is not None:
            lines += rule(p, it)
        elif it.type in book.unpriced_types:
            lines.append(not_priced(it, f"billable ({book.unpriced_types[it.type]}), no price in the data file"))
        elif it.type not in book.free_types:
            lines.append(not_priced(it, "unknown type: add its price rule, or list it under free_types"))
    lines += stack_lines(p)
    if usage.get("deduct_free_tier"):
        lines += _free_tier(book, region, lines)
    return Estimate(stack, region, environment, tuple(lines), usage, tuple(_notes(items)))


def _free_tier(book: pricing.PriceBook, region: str, lines: list[Line]) -> list[Line]:
    used: dict[str, float] = {}
    for line in lines:
        if line.priced and line.price_key:
            used[line.price_key] = used.get(line.price_key, 0.0) + line.quantity
    credits = []
    for key, quantity in sorted(used.items()):
        price = book.price(region, key)
        if price and price.free and quantity:
            free = min(quantity, price.free)
            credits.append(Line("(account)", "free tier", f"free allowance of {key}", -free, price.unit, price.usd,
                                -free * price.usd, "account-wide allowance, deducted as if this stack had it alone", key))  # fmt: skip
    return credits


def _notes(items: list[Item]) -> list[str]:
    created = any(i.type == "aws:route53/zone:Zone" for i in items)
    zones = sorted({str(i.props["zoneId"]) for i in items if i.type == "aws:route53/record:Record" and i.props.get("zoneId")})  # fmt: skip
    if zones and not created:
        return [f"hosted zone {', '.join(zones)} is outside the stack: its $0.50/month is billed where it is managed"]
    return []


# ----------------------------------------------------------------- budget


@dataclass(frozen=True)
class BudgetCheck:
    ok: bool
    total_usd: float
    budget_usd: float
    message: str


def check_budget(est: Estimate, budget_usd: float) -> BudgetCheck:
    """Over budget fails, and so does an estimate with unpriced resources (its total is too low)."""
    total = est.total_usd
    if est.unpriced:
        names = ", ".join(sorted({f"{line.resource} ({line.type})" for line in est.unpriced}))
        message = f"estimated ${total:.2f}/month is incomplete: {len(est.unpriced)} item(s) {NOT_PRICED}: {names}"
        return BudgetCheck(False, total, budget_usd, message)
    if total > budget_usd:
        message = (
            f"estimated ${total:.2f}/month is over the ${budget_usd:.2f} budget (monthlyBudgetUsd)"
            f" by ${total - budget_usd:.2f}"
        )
        return BudgetCheck(False, total, budget_usd, message)
    message = (
        f"estimated ${total:.2f}/month is within the ${budget_usd:.2f} budget (${budget_usd - total:.2f} to spare)"
    )
    return BudgetCheck(True, total, budget_usd, message)
