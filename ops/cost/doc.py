"""docs/cost.md: the monthly cost of every stack, what drives it, and cheaper options, from `ops cost`.

Every figure here is computed by the estimator from the real program's recorded
resources; the cheaper options are re-estimates of the same program with one
thing changed (another instance type) or with the lines an option removes taken
out. `python -m ops cost --markdown > docs/cost.md` regenerates the file, and a
test fails when the committed file is stale.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ops.cost import estimate as cost
from ops.cost import topologies
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
# The office hours a cheaper option is priced with when the stack runs always: staging's own.
OFFICE_HOURS = {"days": "MON-FRI", "start": "07:00", "stop": "21:00"}
OFFICE_BACKUP_TIME = "07:30"  # inside those hours, as the settings require
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
    "fargate": "Fargate tasks",
    "rds": "RDS PostgreSQL",
    "elasticache": "ElastiCache Redis",
    "scheduler": "EventBridge Scheduler",
    "transfer": "Data transfer out",
}


def _sum(e: cost.Estimate, match: Callable[[Line], bool]) -> float:
    return sum(line.monthly_usd or 0.0 for line in e.lines if match(line))


def _usd(value: float) -> str:
    return f"${value:,.2f}"


def _signed(value: float) -> str:
    return f"-{_usd(-value)}" if value < 0 else _usd(value)


def by_service(lines: Iterable[Line]) -> list[tuple[str, float]]:
    totals: dict[str, float] = {}
    for line in lines:
        if line.priced and line.price_key:
            service = SERVICES.get(line.price_key.split(".", 1)[0], line.price_key)
            totals[service] = totals.get(service, 0.0) + (line.monthly_usd or 0.0)
    return sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))


@dataclass(frozen=True)
class Variant:
    """One combination of the settings the cost depends on most: edge, schedule, instance type."""

    edge: str
    office_hours: bool
    instance_type: str

    def overrides(self, config: StackConfig) -> dict[str, Any]:
        out: dict[str, Any] = {"edge": self.edge, "instanceType": self.instance_type}
        if self.edge == "host":
            out["waf"] = "off"  # the WAF attaches to the load balancer
        if self.office_hours and config.schedule is None:
            out |= {"schedule": OFFICE_HOURS, "backupTime": OFFICE_BACKUP_TIME}
        elif not self.office_hours:
            out["schedule"] = "always"
        return out

    def describe(self, config: StackConfig) -> str:
        hours = config.schedule
        days, start, stop = (hours.days, hours.start, hours.stop) if hours else OFFICE_HOURS.values()
        when = f"{days} {start}-{stop}"
        return f"edge `{self.edge}`, schedule {when if self.office_hours else '`always`'}, `{self.instance_type}`"

    def trade_offs(self, config: StackConfig) -> str:
        from components.config_sections import INSTANCE_TYPES

        host = "Traefik terminates TLS (Let's Encrypt) on the Elastic IP, no ALB alarms (Prometheus' instead)"
        if config.waf != "off":
            host += ", no WAF"
        parts = [host if self.edge == "host" else "an ALB of its own (managed certificate, target health checks)"]
        if self.office_hours:
            parts.append("host stopped off hours")
        arch = INSTANCE_TYPES[self.instance_type].architecture
        if arch != config.instance_shape.architecture:
            parts.append(f"{arch} images: not the ones the stack runs now")
        if self.edge == "host" or self.office_hours:
            parts.append("not for prod (policy)")
        return "; ".join(parts)


def current(config: StackConfig) -> Variant:
    return Variant(config.edge, config.schedule is not None, config.instance_type)


def variants(config: StackConfig) -> list[Variant]:
    """Every combination of edge, schedule and instance architecture but the stack's own."""
    other = GRAVITON.get(config.instance_type) or next(
        (x for x, arm in GRAVITON.items() if arm == config.instance_type), None
    )
    types = [config.instance_type, *([other] if other else [])]
    every = [Variant(e, o, t) for e in ("alb", "host") for o in (False, True) for t in types]
    return [v for v in every if v != current(config)]


def options(stack: str, config: StackConfig) -> list[tuple[str, float, str]]:
    """(option, monthly total with it, its trade-offs): each a run of the program with those settings."""
    rows = []
    for variant in variants(config):
        est = cost.estimate(*cost.run_with_config(stack, variant.overrides(config)))
        rows.append((variant.describe(config), est.total_usd, variant.trade_offs(config)))
    return sorted(rows, key=lambda row: -row[1])


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
    rows = options(stack, config)
    total = est.total_usd
    services = by_service(est.lines)
    top = services[:3]
    share = sum(v for _, v in top) / total if total else 0.0
    out = [
        f"## {stack}: {_usd(total)}/month",
        "",
        f"{current(config).describe(config)} host, {config.data_volume_size_gb} GB data volume, {config.region}. "
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
        head = "Other combinations of the settings (each a run of the program with them; negative savings cost more):"
        out += ["", head, ""]
        out += ["| option | monthly | saves | trade-off |", "|---|---:|---:|---|"]
        out += [f"| {name} | {_usd(v)} | {_signed(total - v)} | {why} |" for name, v, why in rows]
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
    sections += topologies.section(stacks, by_service)
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
