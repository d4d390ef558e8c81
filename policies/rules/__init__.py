"""The rules of the Quintas CRM policy pack, one module per area.

`RULES` is every rule in a fixed order; `build_policies()` is exactly what the
pack's `__main__.py` serves. Importing this package never starts the pack's server.
"""

from __future__ import annotations

from pulumi_policy import Policy

from . import (
    alb,
    audit,
    backups,
    containers,
    cost,
    database,
    datastores,
    ebs,
    ec2,
    ecs,
    edge,
    iam,
    network,
    observability,
    resilience,
    s3,
    tags,
    waf,
)
from .base import Rule

PACK_NAME = "quintas-crm"

RULES: list[Rule] = [
    *s3.RULES,
    *resilience.RULES,
    *ec2.RULES,
    *ebs.RULES,
    *network.RULES,
    *alb.RULES,
    *edge.RULES,
    *waf.RULES,
    *iam.RULES,
    *backups.RULES,
    *containers.RULES,
    *database.RULES,
    *datastores.RULES,
    *ecs.RULES,
    *tags.RULES,
    *observability.RULES,
    *audit.RULES,
    *cost.RULES,
]


def build_policies() -> list[Policy]:
    return [rule.policy() for rule in RULES]


def rule(name: str) -> Rule:
    for r in RULES:
        if r.name == name:
            return r
    raise KeyError(f"no rule named {name!r}; rules: {', '.join(r.name for r in RULES)}")
