"""Prices of what protects the stack: the WAF web ACL, and the data volume's snapshots copied to a
second region. Same shape as model.py's rules (one function per resource type), kept apart so that
each file stays readable; estimate.py merges both tables.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from .model import Item, Line, Pricer, lifecycle_policy, snapshot_gb


def web_acl(p: Pricer, it: Item) -> list[Line]:
    """$ per web ACL, $ per rule (a managed rule group is one rule) and $ per million requests inspected."""
    rules = len(it.props.get("rules") or [])
    millions = float(p.usage["waf_requests_millions_per_month"])
    return [
        p.line(it, "waf.web_acl", 1, "web ACL"),
        p.line(it, "waf.rule", rules, "rules", f"{rules} rules and managed rule groups"),
        p.line(it, "waf.requests", millions, "requests inspected", f"{millions:g} million requests a month"),
    ]


def lifecycle_policy_with_copies(p: Pricer, it: Item) -> list[Line]:
    """model.lifecycle_policy, plus each cross-region copy: its snapshots stored in the target
    region and the changed blocks carried there every day."""
    lines = lifecycle_policy(p, it)
    schedules = (it.props.get("policyDetails") or {}).get("schedules") or []
    for rule in (schedules[0].get("crossRegionCopyRules") or []) if schedules else []:
        target = str(rule.get("target") or rule.get("targetRegion") or "")
        there = Item(it.type, it.name, it.props, target)
        for name, gb, changed_per_day, why in snapshot_gb(p, it, {"retainRule": rule.get("retainRule") or {}}):
            lines.append(p.line(there, "ebs.snapshot.standard", gb, f"copies of {name}'s snapshots in {target}", why))
            monthly = changed_per_day * p.hours / 24
            lines.append(
                p.line(it, "ebs.snapshot.copy_transfer", monthly, f"snapshot copies to {target}",
                       f"{changed_per_day:g} GB of changed blocks a day")
            )  # fmt: skip
    return lines


RULES: Mapping[str, Callable[[Pricer, Item], list[Line]]] = {
    "aws:wafv2/webAcl:WebAcl": web_acl,
    "aws:dlm/lifecyclePolicy:LifecyclePolicy": lifecycle_policy_with_copies,
}
