"""Monthly cost estimate of a stack from the resources its program records, with a budget check.

`python -m ops cost --stack NAME [--json]` runs the stack's real program on the
simulated engine and prints one line per priced item (quantity, unit price,
monthly USD), the total and how it compares with `monthlyBudgetUsd`.
`--markdown` prints docs/cost.md (both stacks and the cheaper options).
Exit 0 on success, 2 on bad input (unknown stack, invalid settings, broken
price data), 1 on a program error. On-demand list prices, from ops/prices/aws.yaml.

`estimate_resources` and `budget_violation` are pure Python over (type, name,
props) so the policy pack can call them without the Pulumi runtime.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TextIO

from ops import pricing
from ops.costmodel import NOT_PRICED, RULES, Item, Line, Pricer, not_priced, stack_lines
from ops.engine import PROJECT  # the engine imports pulumi only inside a run

if TYPE_CHECKING:
    from components.config import StackConfig
    from ops import engine

SKIPPED_PACKAGES = ("pulumi", "quintas")  # the stack, providers and our components: no cloud resource


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
    rank = {t: n for n, t in enumerate(RULES)}
    items.sort(key=lambda i: (rank.get(i.type, len(rank)), i.type, i.name))
    p = Pricer(book, region, usage, items, settings or {})
    lines: list[Line] = []
    for it in items:
        rule = RULES.get(it.type)
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


def items_from_run(run: engine.Run, default_region: str) -> list[Item]:
    """The run's cloud resources, each with the region of its provider."""
    regions = {r.urn: r.inputs.get("region") for r in run.resources if r.type.startswith("pulumi:providers:")}
    items = []
    for r in run.resources:
        if not r.custom:
            continue
        provider_urn = r.provider.rsplit("::", 1)[0] if r.provider else ""
        region = regions.get(provider_urn) or default_region
        items.append(Item(r.type, r.name, r.inputs, str(region)))
    return items


class CostSettings(Protocol):
    """The settings the estimate reads: StackConfig has them, and so has RunSettings."""

    @property
    def region(self) -> str: ...
    @property
    def environment(self) -> str: ...
    @property
    def snapshot_retention_days(self) -> int: ...
    @property
    def monthly_budget_usd(self) -> float: ...


@dataclass(frozen=True)
class RunSettings:
    region: str
    environment: str
    snapshot_retention_days: int
    monthly_budget_usd: float


def settings_of(run: engine.Run) -> RunSettings:
    """The settings a run was given (StackConfig validated them when the program loaded them)."""

    def get(key: str, default: str) -> str:
        return run.config.get(f"{PROJECT}:{key}", default)

    return RunSettings(
        region=run.config.get("aws:region", "us-east-1"),
        environment="prod" if get("environment", "staging") == "prod" else "staging",
        snapshot_retention_days=int(get("snapshotRetentionDays", "7")),
        monthly_budget_usd=float(get("monthlyBudgetUsd", "0")),
    )


def estimate(run: engine.Run, config: CostSettings | None = None) -> Estimate:
    """The estimate of a run; without `config`, the settings come from the run itself."""
    config = config or settings_of(run)
    return estimate_resources(
        items_from_run(run, config.region),
        region=config.region,
        environment=config.environment,
        stack=run.stack,
        settings={"snapshot_retention_days": config.snapshot_retention_days},
    )


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


def budget_violation(
    resources: Iterable[Item | tuple[str, str, Mapping[str, Any]]],
    *,
    budget_usd: float,
    region: str,
    environment: str,
) -> str | None:
    """The one call the policy pack's cost rule makes: None within budget, else the message."""
    check = check_budget(estimate_resources(resources, region=region, environment=environment), budget_usd)
    return None if check.ok else check.message


# ----------------------------------------------------------------- the verb


def run_with_config(
    stack: str, overrides: Mapping[str, Any] | None = None, program: engine.Program | None = None
) -> tuple[engine.Run, StackConfig]:
    """One run of the real program (or `program`), keeping the StackConfig of the run's settings."""
    from components.config import StackConfig
    from ops import engine

    loaded: list[StackConfig] = []
    inner = program or engine._main_program(engine.ROOT)

    def with_config() -> None:
        loaded.append(StackConfig.load())
        inner()

    run = engine.run(stack, program=with_config, overrides=overrides)
    return run, loaded[0]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", action="append", help="stack name; needs a Pulumi.<stack>.yaml file")
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    out.add_argument("--markdown", action="store_true", help="print docs/cost.md (all stacks unless --stack)")


def main(args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    from ops import costdoc, engine

    stacks: list[str] = args.stack or []
    if not args.markdown and len(stacks) != 1:
        err.write("error: give exactly one --stack NAME (e.g. --stack prod); only --markdown takes several\n")
        return 2
    try:
        pricing.load()
        if args.markdown:
            out.write(costdoc.render(stacks or list(costdoc.STACKS)))
            return 0
        run, config = run_with_config(stacks[0])
        est = estimate(run, config)
    except Exception as exc:  # noqa: BLE001 every failure is reported with its exit code
        return engine.report_failure(exc, stacks[0] if stacks else "", err, bad_input=(pricing.PriceDataError,))
    check = check_budget(est, config.monthly_budget_usd)
    if args.json:
        doc = {**est.to_json(), "budget_usd": config.monthly_budget_usd, "within_budget": check.ok}
        json.dump(doc, out, indent=2)
        out.write("\n")
    else:
        render_text(est, check, out)
    return 0


def assumption_texts(est: Estimate) -> list[str]:
    """Each assumption once, with the resources it applies to."""
    seen: dict[tuple[str, str], list[str]] = {}
    for line in est.lines:
        if line.priced and line.assumption:
            seen.setdefault((line.item, line.assumption), []).append(line.resource)
    texts = [f"{', '.join(names)} {item}: {why}" for (item, why), names in seen.items()]
    return texts + list(est.notes)


def render_text(est: Estimate, check: BudgetCheck | None, out: TextIO) -> None:
    out.write(f"Monthly cost of stack {est.stack!r} in {est.region}: on-demand list prices from "
              f"ops/prices/aws.yaml, usage assumptions of {est.environment}.\n\n")  # fmt: skip
    rows = [("resource", "item", "quantity", "unit", "unit USD", "monthly USD")]
    for line in est.lines:
        if line.priced:
            rows.append((line.resource, line.item, f"{line.quantity:,.4g}", line.unit, f"{line.unit_usd:g}",
                         f"{line.monthly_usd:,.2f}"))  # fmt: skip
        else:
            rows.append((line.resource, line.item, "", "", "", NOT_PRICED))
    widths = [max(len(row[i]) for row in rows) for i in range(6)]
    for row in rows:
        cells = [
            c.ljust(w) if i < 2 or i == 3 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        out.write("  " + "  ".join(cells).rstrip() + "\n")
    out.write(f"\n  Total: ${est.total_usd:,.2f}/month\n")
    if check is not None:
        out.write(f"  Budget: {'OK' if check.ok else 'FAIL'}: {check.message}\n")
    for line in est.unpriced:
        out.write(f"  ! {line.resource} ({line.type}): {line.assumption}\n")
    out.write("\nAssumptions:\n")
    for text in assumption_texts(est):
        out.write(f"  - {text}\n")
