"""docs/cost.md: the monthly cost of every stack, what drives it, and cheaper options, from `ops cost`.

Every figure here is computed by the estimator from the real program's recorded
resources; the cheaper options are re-estimates of the same program with one
thing changed (another instance type) or with the lines an option removes taken
out. `python -m ops cost --markdown > docs/cost.md` regenerates the file, and a
test fails when the committed file is stale.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from ops.cost import estimate as cost
from policies.rules.pricing.estimate import check_budget
from policies.rules.pricing.model import NOT_PRICED, Line

if TYPE_CHECKING:
    from components.config import StackConfig

STACKS = ("prod", "staging")
GOALS_USD = {"prod": 130.0, "staging": 50.0}  # issue goals, every feature on, on-demand prices
# The Graviton (arm64) type with the same vCPUs and memory, from components/config.py INSTANCE_TYPES.
GRAVITON = {
    "t3.medium": "t4g.medium",
    "t3.large": "t4g.large",
    "t3.xlarge": "t4g.xlarge",
    "t3a.medium": "t4g.medium",
    "t3a.large": "t4g.large",
    "t3a.xlarge": "t4g.xlarge",
    "m6i.large": "m7g.large",
    "m6i.xlarge": "m7g.xlarge",
    "m7i.large": "m7g.large",
    "m7i.xlarge": "m7g.xlarge",
}
LOAD_BALANCER_TYPES = ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")
OFFICE_HOURS = 12 * 22  # a staging host up 12 hours on 22 working days
SERVICES = {
    "ec2": "EC2 instance hours",
    "ebs": "EBS volumes and snapshots",
    "dlm": "EBS volumes and snapshots",
    "vpc": "Public IPv4 addresses",
    "elb": "Application Load Balancer",
    "s3": "S3",
    "cloudwatch": "CloudWatch (alarms, logs, detailed monitoring)",
    "route53": "Route 53",
    "sns": "SNS",
    "kms": "KMS",
    "waf": "AWS WAF",
    "ecr": "ECR",
    "secretsmanager": "Secrets Manager",
    "transfer": "Data transfer out",
}


def _usd(value: float) -> str:
    return f"${value:,.2f}"


def by_service(lines: Iterable[Line]) -> list[tuple[str, float]]:
    totals: dict[str, float] = {}
    for line in lines:
        if line.priced and line.price_key:
            service = SERVICES.get(line.price_key.split(".", 1)[0], line.price_key)
            totals[service] = totals.get(service, 0.0) + (line.monthly_usd or 0.0)
    return sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))


def _sum(e: cost.Estimate, match: Callable[[Line], bool]) -> float:
    return sum(line.monthly_usd or 0.0 for line in e.lines if match(line))


def _instance_hours(e: cost.Estimate) -> float:
    return _sum(e, lambda line: (line.price_key or "").startswith("ec2.instance."))


def _load_balancer(e: cost.Estimate) -> float:
    return _sum(e, lambda line: line.type in LOAD_BALANCER_TYPES)


def options(stack: str, est: cost.Estimate, config: StackConfig) -> list[tuple[str, float, str]]:
    """(option, monthly total with it, its trade-off), each computed by the estimator."""
    rows: list[tuple[str, float, str]] = []
    arm = GRAVITON.get(config.instance_type)
    graviton = cost.estimate(*cost.run_with_config(stack, {"instanceType": arm})) if arm else None
    if graviton:
        rows.append((f"Graviton `{arm}` instead of `{config.instance_type}`", graviton.total_usd,
                     "same vCPUs and memory; every container image must be built for arm64"))  # fmt: skip
    if _load_balancer(est):
        rows.append(("No ALB: Traefik on the host terminates TLS (Let's Encrypt) on the Elastic IP",
                     est.total_usd - _load_balancer(est),
                     "no managed certificate, no ALB health checks or alarms; not for prod"))  # fmt: skip
        if not config.is_prod:
            rows.append(("Share prod's ALB: host rules for the staging names, staging target groups",
                         est.total_usd - _load_balancer(est),
                         "staging's routing lives in the prod stack; a staging change touches prod's listener"))  # fmt: skip
    if not config.is_prod and _instance_hours(est):
        off = 1 - OFFICE_HOURS / float(est.assumptions.get("hours_per_month", 730))
        rows.append((f"Host stopped nights and weekends (up {OFFICE_HOURS} h a month)",
                     est.total_usd - _instance_hours(est) * off,
                     "a scheduled stop/start; staging unavailable off hours"))  # fmt: skip
        if len(rows) > 1:
            best = graviton or est
            rows.append((f"{'Graviton, ' if graviton else ''}no ALB of its own, host stopped off hours",
                         best.total_usd - _load_balancer(best) - _instance_hours(best) * off,
                         "the cheapest staging this design allows at on-demand prices"))  # fmt: skip
    return rows


def _verdict(stack: str, total: float, rows: list[tuple[str, float, str]]) -> str:
    goal = GOALS_USD.get(stack)
    if goal is None:
        return ""
    if total <= goal:
        return f"Meets the goal of {_usd(goal)}/month with {_usd(goal - total)} to spare."
    fits = [name for name, with_it, _ in rows if with_it <= goal]
    fix = f" Options that meet it: {'; '.join(fits)}." if fits else " No single option below meets it."
    return f"Misses the goal of {_usd(goal)}/month by {_usd(total - goal)}.{fix}"


# What protects the data and the logins, by feature: which lines each one adds.
PROTECTION: dict[str, Callable[[Line], bool]] = {
    "WAF: web ACL, rules, requests and its log": lambda line: (
        (line.price_key or "").startswith("waf.") or line.resource == "waf"
    ),
    "Replicas of backups and uploads in the replica region": lambda line: (
        line.resource.endswith("-replica") or line.price_key == "s3.replication.transfer"
    ),
    "Snapshot copies in the replica region": lambda line: "copies" in line.item,
    "KMS key of the logs and the alert topic": lambda line: (line.price_key or "").startswith("kms."),
    "VPC flow log (rejected traffic)": lambda line: line.resource == "flow-log",
}


def protection(est: cost.Estimate, budget_usd: float) -> list[str]:
    """What the security features add, by feature, and what the stack costs without them."""
    rows = [(name, _sum(est, match)) for name, match in PROTECTION.items()]
    added = sum(v for _, v in rows)
    if not added:
        return []
    before = est.total_usd - added
    return [
        "What protection costs (the budget's reason):",
        "",
        "| feature | monthly |",
        "|---|---:|",
        *(f"| {name} | {_usd(v)} |" for name, v in rows if v),
        f"| **all of them** | **{_usd(added)}** |",
        "",
        f"Without them the stack costs {_usd(before)}/month. They protect the CRM's data and logins against "
        "a region outage, a compromised host and password guessing, which no cheaper option does, so the "
        f"budget is {_usd(budget_usd)} instead of the goal: the goal is kept as the reference for the rest.",
        "",
    ]


def _stack_section(stack: str) -> tuple[list[str], tuple[str, float, float, str]]:
    run, config = cost.run_with_config(stack)
    est = cost.estimate(run, config)
    check = check_budget(est, config.monthly_budget_usd)
    rows = options(stack, est, config)
    total = est.total_usd
    services = by_service(est.lines)
    top = services[:3]
    share = sum(v for _, v in top) / total if total else 0.0
    out = [
        f"## {stack}: {_usd(total)}/month",
        "",
        f"`{config.instance_type}` host, {config.data_volume_size_gb} GB data volume, {config.region}. "
        f"Budget check (`monthlyBudgetUsd` = {_usd(config.monthly_budget_usd)}): "
        f"{'pass' if check.ok else 'fail'}: {check.message}. {_verdict(stack, total, rows)}",
        "",
    ]
    if top:
        drivers = ", ".join(f"{name} ({_usd(v)})" for name, v in top)
        out += [f"Cost drivers: {drivers}: {share:.0%} of the total.", ""]
    out += ["| service | monthly | share |", "|---|---:|---:|"]
    out += [f"| {name} | {_usd(v)} | {v / total:.0%} |" for name, v in services] if total else []
    if config.monthly_budget_usd > GOALS_USD.get(stack, config.monthly_budget_usd):
        out += ["", *protection(est, config.monthly_budget_usd)]
    if rows:
        out += ["", "Cheaper options (each re-estimated from the program):", ""]
        out += ["| option | monthly | saves | trade-off |", "|---|---:|---:|---|"]
        out += [f"| {name} | {_usd(v)} | {_usd(total - v)} | {why} |" for name, v, why in rows]
    out += ["", "<details><summary>Every line</summary>", ""]
    out += [
        "| resource | item | quantity | unit | unit USD | monthly | assumption |",
        "|---|---|---:|---|---:|---:|---|",
    ]
    for line in est.lines:
        unit_usd = f"{line.unit_usd:g}" if line.unit_usd is not None else ""
        monthly = _usd(line.monthly_usd) if line.monthly_usd is not None else NOT_PRICED
        out.append(f"| {line.resource} | {line.item} | {line.quantity:,.4g} | {line.unit} | {unit_usd} | {monthly} |"
                   f" {line.assumption} |")  # fmt: skip
    out += ["", *(f"- {note}" for note in est.notes), "", "</details>", ""]
    return out, (stack, total, config.monthly_budget_usd, "pass" if check.ok else "fail")


def render(stacks: Iterable[str]) -> str:
    sections: list[str] = []
    summary: list[tuple[str, float, float, str]] = []
    for stack in stacks:
        lines, row = _stack_section(stack)
        sections += lines
        summary.append(row)
    head = [
        "# Monthly cost",
        "",
        "Generated by `python -m ops cost --markdown > docs/cost.md` from the resources the real program",
        "records on the simulated engine; do not edit by hand (a test checks that this file is current).",
        "Prices: on-demand list prices, Linux, from `policies/rules/pricing/prices/aws.yaml` (each row names its AWS",
        "pricing page and date); usage that no resource setting tells (GB stored, LCUs, log GB, traffic)",
        "comes from that file's `assumptions` section and is stated on every line. Account-wide free",
        "allowances are not deducted: both stacks share them. `python -m ops cost --stack NAME` prints",
        "one stack's lines.",
        "",
        "| stack | monthly | budget | goal | budget check |",
        "|---|---:|---:|---:|---|",
        *(f"| {s} | {_usd(t)} | {_usd(b)} | {_usd(GOALS_USD.get(s, b))} | {c} |" for s, t, b, c in summary),
        "",
    ]
    tail = [
        "## Not in these figures",
        "",
        "- Savings Plans and Reserved Instances: a 1- or 3-year commitment lowers the instance-hour line,",
        "  the largest one; the data file holds on-demand prices only, so no discounted figure is shown.",
        "- Taxes, AWS Support plans, and anything created outside the stacks (the state bucket, the",
        "  hosted zone when the stack only references it).",
        "",
    ]
    return "\n".join(head + sections + tail)
