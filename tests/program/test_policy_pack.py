"""The pack as a whole: it constructs as `pulumi preview --policy-pack` would load it, its
config files are valid, the real program passes every mandatory rule in both stacks,
a flipped secure setting makes `ops plan` fail naming the rule, and docs are current."""

from __future__ import annotations

import ast
import importlib
import inspect
import io
import json
import runpy
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_policy
import pytest
import yaml

from ops.__main__ import build_parser
from ops.cli import plan, policy_docs
from ops.sim import engine, policy
from ops.sim.templates_managed import TEMPLATES as RESOURCES
from policies.rules import RULES, build_policies, cost
from policies.rules.base import ADVISORY, MANDATORY
from policies.rules.pricing.book import PriceDataError
from policies.rules.tags import TAGGABLE

ROOT = Path(__file__).resolve().parents[2]
PACK = ROOT / "policies"


def test_pack_main_only_builds_the_pack_from_the_rule_modules() -> None:
    tree = ast.parse((PACK / "__main__.py").read_text())
    body = [n for n in tree.body if not isinstance(n, (ast.Import, ast.ImportFrom))]
    body = [n for n in body if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))]  # docstring
    assert len(body) == 1 and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Call)
    call = body[0].value
    assert isinstance(call.func, ast.Name) and call.func.id == "PolicyPack"
    policies = next(k.value for k in call.keywords if k.arg == "policies")
    assert isinstance(policies, ast.Call) and isinstance(policies.func, ast.Name)
    assert policies.func.id == "build_policies"


def test_pack_main_constructs_the_policy_pack_with_every_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs policies/__main__.py as the CLI does, with PolicyPack recording instead of serving."""
    made: list[dict[str, Any]] = []
    monkeypatch.setattr(pulumi_policy, "PolicyPack", lambda **kwargs: made.append(kwargs))
    monkeypatch.syspath_prepend(str(PACK))
    for name in [m for m in sys.modules if m == "rules" or m.startswith("rules.")]:
        monkeypatch.delitem(sys.modules, name)
    runpy.run_path(str(PACK / "__main__.py"), run_name="__main__")
    assert len(made) == 1
    served = made[0]["policies"]
    names = [p.name for p in served]
    assert names == [p.name for p in build_policies()]
    assert len(names) == len(set(names)) >= 30
    assert made[0]["enforcement_level"] is pulumi_policy.EnforcementLevel.MANDATORY


def test_every_policy_has_metadata_and_a_level_with_reason() -> None:
    for rule, built in zip(RULES, build_policies(), strict=True):
        assert built.name == rule.name and built.description and built.severity is not None
        assert rule.why and rule.level in (MANDATORY, ADVISORY)
        assert rule.level is MANDATORY or len(rule.advisory_reason) > 40, rule.name
        assert isinstance(built, pulumi_policy.StackValidationPolicy) == (rule.kind == "stack")
    # The host's and the tasks' public addresses, for one reason: no NAT gateway.
    advisory = [r for r in RULES if r.level is ADVISORY]
    assert [r.name for r in advisory] == ["ec2-no-public-ipv4", "ecs-no-public-ip"]
    assert all("NAT gateway" in r.advisory_reason for r in advisory)


def test_rule_modules_never_import_the_pack_main() -> None:
    for path in (PACK / "rules").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            modules += [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not any("__main__" in m for m in modules), path.name
            assert not (isinstance(node, ast.Name) and node.id == "PolicyPack"), path.name


def test_pack_declares_python_runtime_and_pins_its_requirements() -> None:
    doc = yaml.safe_load((PACK / "PulumiPolicy.yaml").read_text())
    assert doc["runtime"]["name"] == "python" and doc["description"]
    pins = (PACK / "requirements.txt").read_text().split()
    assert "pulumi-policy==1.21.0" in pins and any(p.startswith("pulumi==") for p in pins)


# ----------------------------------------------------------------- config


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_stack_policy_config_is_valid_and_matches_the_stack_settings(stack: str) -> None:
    config = policy.load_config(stack)
    settings = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    assert config["cost-within-budget"]["monthlyBudgetUsd"] == settings["quintas-crm-infra:monthlyBudgetUsd"]
    assert config["backups-recovery-window"]["minRecoveryWindowDays"] == {"staging": 7, "prod": 30}[stack]
    assert config["backups-archive-timeout-within-rpo"]["rpoSeconds"] == 60
    environments = {v["environment"] for v in config.values() if "environment" in v}
    assert environments == {settings["quintas-crm-infra:environment"]}


def test_schema_defaults_satisfy_their_own_schema() -> None:
    configured = [rule for rule in RULES if rule.config]
    assert configured, "no rule declares a config schema"
    for rule in configured:
        defaults = rule.defaults()
        assert defaults or rule.name == "cost-within-budget", f"{rule.name} has a schema but no defaults"
        assert policy.validate_config({rule.name: defaults}) == {rule.name: defaults}


@pytest.mark.parametrize(
    ("doc", "problem"),
    [
        ({"no-such-rule": {}}, "no-such-rule: no such policy"),
        ({"backups-recovery-window": {"minRecoveryWindowDays": "thirty"}}, "'thirty' is not of type 'integer'"),
        ({"ec2-imds-hop-limit": {"maxHops": 2}}, "Additional properties are not allowed ('maxHops'"),
        ({"alb-access-logs": {"enforcementLevel": "sometimes"}}, "'sometimes' is not one of"),
    ],
)
def test_invalid_policy_config_is_rejected_with_the_problem(doc: dict[str, Any], problem: str) -> None:
    with pytest.raises(policy.PolicyConfigError) as info:
        policy.validate_config(doc)
    assert problem in str(info.value)


def test_plan_exits_2_on_a_broken_policy_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "staging.json").write_text('{"cost-within-budget": {"monthlyBudgetUsd": -5}}')
    monkeypatch.setattr(policy, "CONFIG_DIR", tmp_path)
    code, _, err = _plan("--stack", "staging")
    assert code == 2 and "cost-within-budget.monthlyBudgetUsd" in err


def test_enforcement_level_can_be_overridden_per_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.helpers import policy_fixtures as fx

    # The synthetic stack holds both topologies' resources, over prod's budget: priced within it here.
    monkeypatch.setattr(cost, "estimate_stack", lambda resources, config: cost.CostEstimate(100.0))

    stack = fx.baseline()
    stack.get(fx.INSTANCE, "host").inputs["ebsOptimized"] = False
    config = policy.load_config("prod")
    advisory = policy.evaluate(stack.run(), {**config, "ec2-ebs-optimized": {"enforcementLevel": "advisory"}})
    assert [(f.policy, f.level) for f in advisory if f.level != "not-applicable"] == [("ec2-ebs-optimized", "advisory")]
    disabled = policy.evaluate(stack.run(), {**config, "ec2-ebs-optimized": {"enforcementLevel": "disabled"}})
    assert [f for f in disabled if f.level != "not-applicable"] == []


def test_taggable_types_match_the_sdk() -> None:
    """Every AWS type the simulated engine knows is in TAGGABLE exactly when its SDK class takes `tags`."""
    for token in sorted({t for t in RESOURCES if t.startswith("aws:")} | set(TAGGABLE)):
        module, cls = token.split(":")[1].split("/")[0], token.split(":")[2]
        sdk = getattr(importlib.import_module(f"pulumi_aws.{module}" if module != "index" else "pulumi_aws"), cls)
        takes_tags = "tags" in inspect.signature(sdk._internal_init).parameters
        assert takes_tags == (token in TAGGABLE), token


# ----------------------------------------------------------------- the real program


def _plan(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = plan.main(build_parser().parse_args(["plan", *argv]), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("preview", [False, True], ids=["up", "first-preview"])
def test_real_program_passes_every_mandatory_rule(stack_run: engine.Run, preview: bool) -> None:
    found = policy.evaluate(stack_run, preview=preview)
    assert policy.mandatory(found) == [], "\n".join(
        f"{f.policy} {f.resource}: {f.message}" for f in policy.mandatory(found)
    )
    # Nothing is quietly skipped: every rule that did not run says why.
    for f in found:
        assert f.level in ("advisory", "not-applicable") and f.message


def test_cost_rule_says_plainly_when_there_is_no_estimate(
    stack_run: engine.Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise PriceDataError("aws.yaml: prices.us-east-1 is missing (test)")

    monkeypatch.setattr(cost, "estimate_resources", broken)
    found = [f for f in policy.evaluate(stack_run) if f.policy == "cost-within-budget"]
    assert [(f.level, f.message) for f in found] == [
        ("not-applicable", "no cost estimate: aws.yaml: prices.us-east-1 is missing (test)")
    ]


def test_cost_rule_fails_an_incomplete_estimate(stack_run: engine.Run, monkeypatch: pytest.MonkeyPatch) -> None:
    incomplete = cost.CostEstimate(12.0, ("nat (aws:ec2/natGateway:NatGateway)",))
    monkeypatch.setattr(cost, "estimate_stack", lambda resources, config: incomplete)
    found = [f for f in policy.evaluate(stack_run) if f.policy == "cost-within-budget"]
    level = policy.load_config(stack_run.stack)["cost-within-budget"].get("enforcementLevel", "mandatory")
    assert [f.level for f in found] == [level]
    assert "not priced: nat (aws:ec2/natGateway:NatGateway)" in found[0].message


def _with(
    change: Callable[[], None], transform: Callable[[pulumi.ResourceTransformationArgs], Any] | None = None
) -> engine.Program:
    """The real program, with a stack transformation applied to its resources and/or a resource added."""
    main = engine.main_program(engine.ROOT)

    def program() -> None:
        if transform is not None:
            pulumi.runtime.register_stack_transformation(transform)
        main()
        change()

    return program


def _open_postgres() -> None:
    group = aws.ec2.SecurityGroup("debug", description="Temporary debugging access")
    aws.vpc.SecurityGroupIngressRule(
        "debug-postgres", security_group_id=group.id, cidr_ipv4="0.0.0.0/0", ip_protocol="tcp",
        from_port=5432, to_port=5432, description="Debugging from home",
    )  # fmt: skip


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_plan_fails_naming_the_rule_when_postgres_is_opened_to_the_world(
    stack: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    mutated = engine.run(stack, _with(_open_postgres))
    monkeypatch.setattr(engine, "run", lambda name: mutated)
    code, out, err = _plan("--stack", stack)
    assert code == 1
    assert "sg-no-world-ingress-on-sensitive-ports" in err
    assert (
        "[mandatory] sg-no-world-ingress-on-sensitive-ports  debug-postgres: security group rule 'debug-postgres' opens 5432 (PostgreSQL) to 0.0.0.0/0"
        in out
    )
    code, out, _ = _plan("--stack", stack, "--json")
    entries = [p for p in json.loads(out)["policy"] if p["policy"] == "sg-no-world-ingress-on-sensitive-ports"]
    assert code == 1 and entries == [
        {
            "policy": "sg-no-world-ingress-on-sensitive-ports",
            "level": "mandatory",
            "severity": "critical",
            "resource": "debug-postgres",
            "message": "security group rule 'debug-postgres' opens 5432 (PostgreSQL) to 0.0.0.0/0",
        }
    ]


def test_policy_docs_are_current() -> None:
    assert policy_docs.DOC_PATH.read_text() == policy_docs.render(), (
        "regenerate: python -m ops policy-docs > docs/policies.md"
    )
    for rule in RULES:
        assert f"`{rule.name}`" in policy_docs.render()


def test_plan_text_groups_violations_by_severity_with_resource_names() -> None:
    findings = [
        policy.Finding("tags-required", "mandatory", "low", "data", "Volume 'data' lacks the tag(s) owner"),
        policy.Finding("ec2-no-public-ipv4", "advisory", "medium", "host", "Instance 'host' gets the public Elastic IP 'host'"),
        policy.Finding("s3-public-access-block", "mandatory", "critical", "logs", "Bucket 'logs' has no BucketPublicAccessBlock"),
        policy.Finding("cost-within-budget", "not-applicable", "medium", None, "no cost estimate: test"),
    ]  # fmt: skip
    out = io.StringIO()
    policy.render_text(findings, "prod", out)
    lines = out.getvalue().splitlines()
    assert "2 mandatory and 1 advisory violation(s)" in lines[1]
    assert lines[2:] == [
        "  CRITICAL",
        "    [mandatory] s3-public-access-block  logs: Bucket 'logs' has no BucketPublicAccessBlock",
        "  MEDIUM",
        "    [advisory] ec2-no-public-ipv4  host: Instance 'host' gets the public Elastic IP 'host'",
        "  LOW",
        "    [mandatory] tags-required  data: Volume 'data' lacks the tag(s) owner",
        "  NOT EVALUATED cost-within-budget: no cost estimate: test",
    ]


def test_a_rule_reading_an_unknown_value_gets_the_engines_preview_diagnostic() -> None:
    """As the engine does: a rule that touches an unknown value is reported advisory, per resource."""
    from pulumi_policy import Severity

    from policies.rules.base import Rule
    from tests.helpers import policy_fixtures as fx

    def reads_directly(args: Any, report: Any) -> None:
        report(f"root size {args.props['rootBlockDevice']['volumeSize']}")

    probe = Rule("probe", "probe", "probe", Severity.LOW, reads_directly, resource_types=(fx.INSTANCE,))
    stack = fx.baseline()
    stack.get(fx.INSTANCE, "host").inputs["rootBlockDevice"]["volumeSize"] = "3eeb2bf0-c639-47a8-9e75-3b44932eb421"
    [found] = policy.evaluate(stack.run(), {}, rules=[probe])
    assert found.level == "advisory"
    assert (
        found.message
        == "can't run policy 'probe' during preview: number value at .rootBlockDevice.volumeSize can't be known during preview"
    )


def test_cost_rule_prices_with_the_packs_price_book(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rule calls the pack's estimate_resources with plain (type, name, props) of cloud resources."""
    import types

    from tests.helpers import policy_fixtures as fx

    calls: list[dict[str, Any]] = []

    def estimate_resources(resources: list[Any], **kwargs: Any) -> Any:
        calls.append({"resources": resources, **kwargs})
        return types.SimpleNamespace(total_usd=170.25, unpriced=[])

    monkeypatch.setattr(cost, "estimate_resources", estimate_resources)
    [found] = policy.evaluate(
        fx.baseline().run(), policy.load_config("prod"), rules=[r for r in RULES if r.name == "cost-within-budget"]
    )
    assert found.message == "estimated $170.25/month is over the $160.00 budget by $10.25 (monthlyBudgetUsd)"
    [call] = calls
    assert (call["region"], call["environment"], call["settings"]) == (
        "us-east-1",
        "prod",
        {"snapshot_retention_days": 14},
    )
    volume = next(r for r in call["resources"] if r[0] == fx.VOLUME)
    assert volume[1:] == (
        "data",
        {
            "availabilityZone": "us-east-1a",
            "size": 100.0,
            "type": "gp3",
            "encrypted": True,
            "tags": {"Snapshot": "quintas-crm-prod-data"},
        },
    )
    assert all(isinstance(r[2], dict) for r in call["resources"])


def _flipping(
    type_token: str, change: Callable[[dict[str, Any]], None], fired: list[str]
) -> Callable[[pulumi.ResourceTransformationArgs], Any]:
    """A stack transformation that changes one setting of every resource of `type_token`."""

    def transform(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
        if args.type_ != type_token:
            return None
        props = dict(args.props)
        change(props)
        fired.append(args.name)
        return pulumi.ResourceTransformationResult(props, args.opts)

    return transform


FLIPS = {
    "ec2-imdsv2-required": ("aws:ec2/instance:Instance", lambda p: p.update(metadata_options={"http_tokens": "optional", "http_put_response_hop_limit": 2})),
    "s3-versioning": ("aws:s3/bucketVersioning:BucketVersioning", lambda p: p.update(versioning_configuration={"status": "Suspended"})),
}  # fmt: skip


@pytest.mark.parametrize("stack", ["staging", "prod"])
@pytest.mark.parametrize("rule_name", sorted(FLIPS))
def test_plan_fails_naming_the_rule_when_a_secure_setting_is_flipped(
    stack: str, rule_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    type_token, change = FLIPS[rule_name]
    fired: list[str] = []
    mutated = engine.run(stack, _with(lambda: None, _flipping(type_token, change, fired)))
    assert fired, f"the program creates no {type_token} to flip"
    monkeypatch.setattr(engine, "run", lambda name: mutated)
    code, out, err = _plan("--stack", stack)
    assert code == 1 and rule_name in err
    # One violation per flipped resource: the instance, or each versioned bucket (uploads and backups).
    assert out.count(f"[mandatory] {rule_name} ") == len(fired) >= 1


def test_weakening_a_rule_for_a_stack_needs_a_written_reason() -> None:
    with pytest.raises(policy.PolicyConfigError, match="needs an enforcementReason"):
        policy.validate_config({"ec2-imdsv2-required": {"enforcementLevel": "advisory"}})
    ok = policy.validate_config({"ec2-imdsv2-required": {"enforcementLevel": "advisory", "enforcementReason": "a written reason of some length"}})  # fmt: skip
    assert ok["ec2-imdsv2-required"]["enforcementLevel"] == "advisory"
