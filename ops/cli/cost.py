"""Monthly cost estimate of a stack from the resources its program records, with a budget check.

`python -m ops cost --stack NAME [--json]` runs the stack's real program on the
simulated engine and prints one line per priced item (quantity, unit price,
monthly USD), the total and how it compares with `monthlyBudgetUsd`.
`--markdown` prints docs/cost.md (both stacks and the cheaper options).
Exit 0 within budget, 1 over budget (or a resource without a price) or on a
program error, 2 on bad input (unknown stack, invalid settings or budget, broken
price data). On-demand list prices, from
policies/rules/pricing/prices/aws.yaml.

Examples:
  python -m ops cost --stack prod
  python -m ops cost --stack staging --json
  python -m ops cost --markdown > docs/cost.md
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TextIO

from ops.cost.estimate import estimate, run_with_config
from policies.rules.pricing import book as pricing
from policies.rules.pricing.estimate import BudgetCheck, Estimate, check_budget
from policies.rules.pricing.model import NOT_PRICED, Line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", action="append", help="stack name; needs a Pulumi.<stack>.yaml file")
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    out.add_argument("--markdown", action="store_true", help="print docs/cost.md (all stacks unless --stack)")


def main(args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    from ops.cost import doc as costdoc
    from ops.sim import engine

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
    # Over budget, or an estimate missing a price: the pull request's check fails (exit 1).
    return 0 if check.ok else 1


def assumption_texts(est: Estimate) -> list[str]:
    """Each assumption once, with the resources it applies to."""
    seen: dict[tuple[str, str], list[str]] = {}
    for line in est.lines:
        if line.priced and line.assumption:
            seen.setdefault((line.item, line.assumption), []).append(line.resource)
    texts = [f"{', '.join(names)} {item}: {why}" for (item, why), names in seen.items()]
    return texts + list(est.notes)


def service_of(line: Line) -> str:
    """The cloud service a cost line belongs to: `cloudwatch` for aws:cloudwatch/logGroup:LogGroup."""
    return line.type.split(":")[1].split("/")[0] if line.type.count(":") >= 2 else line.type or "(stack)"


def table_rows(est: Estimate, group_below: float | None = None) -> list[tuple[str, ...]]:
    """The table's rows; with `group_below`, a service's lines under that many USD each share one row."""
    small: dict[str, list[Line]] = {}
    if group_below is not None:
        for line in est.lines:
            if line.priced and abs(line.monthly_usd or 0.0) < group_below:
                small.setdefault(service_of(line), []).append(line)
        small = {service: lines for service, lines in small.items() if len(lines) > 1}
    rows: list[tuple[str, ...]] = [("resource", "item", "quantity", "unit", "unit USD", "monthly USD")]
    for line in est.lines:
        group = small.get(service_of(line), [])
        if line in group:
            if line is group[0]:
                total = sum(g.monthly_usd or 0.0 for g in group)
                label = f"{len(group)} {service_of(line)} lines"
                rows.append((label, f"each under ${group_below:.2f}", "", "", "", f"{total:,.2f}"))
        elif line.priced:
            numbers = (f"{line.quantity:,.4g}", line.unit, f"{line.unit_usd:g}", f"{line.monthly_usd:,.2f}")
            rows.append((line.resource, line.item, *numbers))
        else:
            rows.append((line.resource, line.item, "", "", "", NOT_PRICED))
    return rows


def render_text(est: Estimate, check: BudgetCheck | None, out: TextIO, group_below: float | None = None) -> None:
    out.write(f"Monthly cost of stack {est.stack!r} in {est.region}: on-demand list prices from "
              f"policies/rules/pricing/prices/aws.yaml, usage assumptions of {est.environment}.\n\n")  # fmt: skip
    rows = table_rows(est, group_below)
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
