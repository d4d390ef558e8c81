"""Offline plan: run a stack's real program on the simulated engine and show what it would create.

The text starts with a summary: resources to create per component (how many are
protected or retained on delete), the monthly cost against the stack's budget,
and the policy result (every policy of the pack, policies/, with the stack's
policy config), each advisory violation with the written reason it only advises.
Then the resource tree with each resource's key settings and options, the stack
outputs, the cost table and the violations by severity. Long values are folded
and small cost lines grouped per service; `--full` prints them whole, `--json`
prints everything as one object (the contract CI reads). Provider outputs are
simulated: no cloud is contacted. Exit 0 on success, 2 on invalid settings or
policy config (every problem listed), 1 on a program error or any mandatory
policy violation.

Examples:
  python -m ops plan --stack staging
  python -m ops plan --stack prod --full
  python -m ops plan --stack prod --json > plan.json
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from ops.cli import plan_text
from ops.cost import estimate as cost
from ops.sim import engine, policy
from policies.rules.pricing.book import PriceDataError
from policies.rules.pricing.estimate import check_budget


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", required=True, help="stack name; needs a Pulumi.<stack>.yaml file")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.add_argument(
        "--full", action="store_true", help="text with every value whole and every cost line (lines may be long)"
    )


def build_plan(
    run: engine.Run, findings: list[policy.Finding] | None = None, estimate: cost.Estimate | None = None
) -> dict[str, Any]:
    """The plan as data: the contract `--json` prints and CI reads."""
    return {
        "stack": run.stack,
        "simulated": True,
        "resources": [
            {
                "urn": r.urn,
                "type": r.type,
                "name": r.name,
                "parent": r.parent,
                "inputs": engine.redact(r.inputs),
                "options": r.options,
            }
            for r in run.resources
        ],
        "outputs": engine.redact(run.outputs),
        "policy": [f.to_json() for f in findings or []],
        "cost": estimate.plan_json() if estimate else None,
    }


def main(args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    try:
        run = engine.run(args.stack)
        estimate = cost.estimate(run)
    except Exception as exc:  # noqa: BLE001 every failure is reported with its exit code
        return engine.report_failure(exc, args.stack, err, bad_input=(PriceDataError,))
    try:
        findings = policy.evaluate(run)
    except policy.PolicyConfigError as exc:
        err.write(f"error: {exc}\n")
        return 2
    if args.json:
        json.dump(build_plan(run, findings, estimate), out, indent=2, sort_keys=False)
        out.write("\n")
    else:
        check = check_budget(estimate, cost.settings_of(run).monthly_budget_usd)
        plan_text.render(run, out, estimate, check, findings, full=args.full)
    blocking = policy.mandatory(findings)
    if blocking:
        err.write(
            f"error: {len(blocking)} mandatory policy violation(s): {', '.join(sorted({f.policy for f in blocking}))}\n"
        )
        return 1
    return 0
