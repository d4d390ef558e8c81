"""The rules of the Quintas CRM policy pack, one module per area.

`RULES` is every rule in a fixed order; `build_policies()` is exactly what the
pack's `__main__.py` serves. Importing this package never starts the pack's server.
"""

from __future__ import annotations

from pulumi_policy import Policy

from . import alb, backups, containers, cost, database, ebs, ec2, iam, network, observability, s3, tags
from .base import Rule

PACK_NAME = "quintas-crm"

RULES: list[Rule] = [
    *s3.RULES,
    *ec2.RULES,
    *ebs.RULES,
    *network.RULES,
    *alb.RULES,
    *iam.RULES,
    *backups.RULES,
    *containers.RULES,
    *database.RULES,
    *tags.RULES,
    *observability.RULES,
    *cost.RULES,
]


def build_policies() -> list[Policy]:
    return [rule.policy() for rule in RULES]


def rule(name: str) -> Rule:
    for r in RULES:
        if r.name == name:
            return r
    raise KeyError(f"no rule named {name!r}; rules: {', '.join(r.name for r in RULES)}")
