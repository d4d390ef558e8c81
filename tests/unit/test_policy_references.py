"""Every rule of the pack names the controls it implements, by their framework's versioned name, or says
why it is a project rule; and no rule cites a control that checks something else."""

from __future__ import annotations

from policies.rules import RULES, rule
from policies.rules.base import PROJECT_RULE


def test_every_rule_cites_a_control_or_says_why_it_is_a_project_rule() -> None:
    known = ("AWS-FSBP ", "checkov CKV", "CIS-Docker-v1.2.0 ", "CIS-AWS-v3.0.0 ")
    for r in RULES:
        assert r.references, r.name
        for ref in r.references:
            if ref.startswith(PROJECT_RULE):
                assert len(ref) > len(PROJECT_RULE) + 20, f"{r.name}: say why no control fits"
            else:
                assert ref.startswith(known), f"{r.name}: {ref}"


def test_the_hop_limit_rule_does_not_cite_the_launch_template_check() -> None:
    # CKV_AWS_341 is a launch-template check that wants 1; the rule checks instances and allows 2.
    assert "checkov CKV_AWS_341" not in rule("ec2-imds-hop-limit").citations
