"""The Quintas CRM policy pack, served to `pulumi preview --policy-pack policies`.

Only builds the pack: the rules live in `rules/`, importable without starting this
server (ops/sim/policy.py runs the same rules offline).
"""

from pulumi_policy import EnforcementLevel, PolicyPack
from rules import PACK_NAME, build_policies

PolicyPack(
    name=PACK_NAME,
    policies=build_policies(),
    enforcement_level=EnforcementLevel.MANDATORY,
)
