"""`python -m ops plan`: the text and JSON contract, exit codes, and that secrets never print."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ops.__main__ import EXIT_BROKEN_PIPE, build_parser, main
from ops.cli import plan

# The operator tools driven here read the session's runs of the real program (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("shared_runs")

ROOT = Path(__file__).resolve().parents[2]


def _plan(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    args = build_parser("plan").parse_args(["plan", *argv])
    code = plan.main(args, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_plan_first_line_says_outputs_are_simulated(stack: str) -> None:
    code, out, _ = _plan("--stack", stack)
    assert code == 0
    first = out.splitlines()[0]
    assert f"stack {stack!r}" in first and "simulated" in first


def test_plan_json_has_the_contract_keys(prod) -> None:
    code, out, _ = _plan("--stack", "prod", "--json")
    assert code == 0
    doc = json.loads(out)
    assert set(doc) == {"stack", "simulated", "resources", "outputs", "policy", "cost"}
    assert doc["stack"] == "prod" and doc["simulated"] is True
    assert len(doc["resources"]) == len(prod.resources)
    for resource in doc["resources"]:
        assert set(resource) == {"urn", "type", "name", "parent", "inputs", "options"}
        assert set(resource["options"]) == {
            "protect", "retain_on_delete", "delete_before_replace", "ignore_changes", "depends_on", "provider",
        }  # fmt: skip


def test_plan_json_writes_delete_before_replace_as_set_and_null_when_unset() -> None:
    code, out, _ = _plan("--stack", "staging", "--json")
    assert code == 0
    options = {(r["type"], r["name"]): r["options"]["delete_before_replace"] for r in json.loads(out)["resources"]}
    assert options[("docker:index/container:Container", "frontend")] is False
    assert options[("docker:index/container:Container", "postgres")] is True
    assert options[("aws:ec2/volumeAttachment:VolumeAttachment", "data")] is True
    assert options[("aws:s3/bucket:Bucket", "uploads")] is None


def test_invalid_settings_exit_2_listing_every_problem(tmp_path, monkeypatch) -> None:
    text = (ROOT / "Pulumi.staging.yaml").read_text()
    text = text.replace("instanceType: t3.medium", "instanceType: t2.micro").replace(
        'backupTime: "07:30"', 'backupTime: "2am"'
    )
    bad = tmp_path / "Pulumi.broken.yaml"
    bad.write_text(text)
    monkeypatch.setattr("ops.sim.engine.ROOT", tmp_path)
    (tmp_path / "__main__.py").write_text((ROOT / "__main__.py").read_text())
    monkeypatch.syspath_prepend(str(ROOT))
    code, out, err = _plan("--stack", "broken")
    assert code == 2
    assert "quintas-crm-infra:instanceType" in err and "quintas-crm-infra:backupTime" in err
    assert out == ""


def test_unknown_stack_exits_2_naming_the_missing_file() -> None:
    code, _, err = _plan("--stack", "qa")
    assert code == 2
    assert "Pulumi.qa.yaml" in err


def test_program_error_exits_1(monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("boom in the program")

    monkeypatch.setattr("ops.sim.engine.run", broken)
    code, _, err = _plan("--stack", "staging")
    assert code == 1
    assert "boom in the program" in err


def test_secret_values_never_appear_in_plan_output(monkeypatch) -> None:
    import pulumi
    import pulumi_random as random

    from ops.sim import engine

    def program() -> None:
        password = random.RandomPassword("db", length=30, special=False)
        pulumi.export("dbPassword", password.result)

    run = engine.run("staging", program)
    secret = run.outputs["dbPassword"].value
    monkeypatch.setattr("ops.sim.engine.run", lambda stack: run)
    for argv in (["--stack", "staging"], ["--stack", "staging", "--json"]):
        code, out, _ = _plan(*argv)
        assert code == 0
        assert secret not in out
        assert "[secret]" in out


@pytest.mark.slow  # drives a real tool or process
def test_cli_entry_point_runs_as_a_module() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ops", "plan", "--stack", "staging", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["stack"] == "staging"


@pytest.mark.slow  # drives a real tool or process
def test_cli_exit_code_and_error_reach_the_shell() -> None:
    """The module entry point ends the process itself; its code and message must survive that."""
    result = subprocess.run(
        [sys.executable, "-m", "ops", "plan", "--stack", "qa"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2
    assert "Pulumi.qa.yaml" in result.stderr


@pytest.mark.slow  # drives a real tool or process
def test_cli_output_cut_short_by_the_reader_ends_quietly() -> None:
    """`ops plan | head`: the reader is gone before the plan prints; no traceback, the shell's code."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "ops", "plan", "--stack", "staging"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    proc.stdout.close()  # the plan prints nothing before its run ends, seconds from now
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == EXIT_BROKEN_PIPE, stderr
    assert "Traceback" not in stderr


def test_main_returns_the_verb_exit_code() -> None:
    assert main(["plan", "--stack", "qa"]) == 2


def test_verb_help_keeps_the_docstrings_lines_and_every_backup_action_says_what_it_does() -> None:
    """Examples and numbered steps in a verb's description stay one per line in --help."""
    import contextlib
    import io

    from ops.__main__ import build_parser

    def help_of(*argv: str) -> str:
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
            build_parser(argv[0]).parse_args([*argv, "--help"])
        return out.getvalue()

    backup = help_of("backup")
    assert "\n  python -m ops backup verify --stack prod" in backup
    assert "\n  python -m ops backup restore --stack prod" in backup
    cutover = help_of("dns-cutover")
    assert "\n1. Reads the stack outputs" in cutover and "\n2. Checks that every target group" in cutover
    assert "the newest base backup finished less than 26 hours ago" in help_of("backup", "verify")
    assert "postgis_full_version()" in help_of("backup", "restore")


# ----------------------------------------------------------------- the text: summary first, folded, grouped


def _components(run) -> dict[str, list]:
    """Each top-level component (child of the stack) with every resource below it, found from the parents."""
    by_urn = {r.urn: r for r in run.resources}
    tops = [r for r in run.resources if r.parent not in by_urn]

    def under(top) -> list:
        return [r for r in run.resources if top.urn in _ancestors(r, by_urn) or r is top]

    return {top.name: under(top) for top in tops}


def _ancestors(resource, by_urn) -> list[str]:
    found = []
    while resource.parent in by_urn:
        found.append(resource.parent)
        resource = by_urn[resource.parent]
    return found


def test_plan_first_20_lines_give_resources_per_component_cost_with_budget_and_policy_counts(prod) -> None:
    from ops.cost import estimate as cost
    from ops.sim.engine import load_stack_settings
    from policies.rules import RULES

    code, out, _ = _plan("--stack", "prod")
    assert code == 0
    head = out.splitlines()[:20]
    assert f"Resources: {len(prod.resources)} to create" in head[2]
    for name, members in _components(prod).items():
        counts = [len(members), sum(r.protect for r in members), sum(r.retain_on_delete for r in members)]
        assert any(line.split() == [name, *map(str, counts)] for line in head), (name, counts)
    total = cost.estimate(prod).total_usd
    budget = float(load_stack_settings("prod")[0]["quintas-crm-infra:monthlyBudgetUsd"])
    assert any(f"budget OK: estimated ${total:.2f}/month is within the ${budget:.2f} budget" in line for line in head)
    assert any("0 mandatory and 1 advisory violation(s)" in line for line in head)
    reason = next(r.advisory_reason for r in RULES if r.name == "ec2-no-public-ipv4")
    assert " ".join(reason.split()) in " ".join(" ".join(head).split())


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_plan_lines_fit_160_characters_unless_full(stack: str) -> None:
    _, out, _ = _plan("--stack", stack)
    assert max(len(line) for line in out.splitlines()) <= 160
    folded = [line for line in out.splitlines() if "--full or --json shows it whole" in line]
    assert any(line.strip().startswith("labels: [") and "(4 items;" in line for line in folded)
    _, whole, _ = _plan("--stack", stack, "--full")
    assert max(len(line) for line in whole.splitlines()) > 160
    assert '{"label": "traefik.http.routers.frontend-app.entrypoints", "value": "app"}' in whole


@pytest.mark.parametrize("full", [False, True])
def test_plan_prints_whole_numbers_without_a_decimal_point(full: bool) -> None:
    _, out, _ = _plan("--stack", "prod", *(["--full"] if full else []))
    assert re.findall(r"(?<![\d.])\d+\.0(?![\d.])", out) == []
    assert "      port: 80\n" in out and "      retentionInDays: 90\n" in out and '"retries": 3,' in out


def test_plan_text_groups_small_cost_lines_per_service_and_json_keeps_each() -> None:
    _, text, _ = _plan("--stack", "prod")
    _, doc, _ = _plan("--stack", "prod", "--json")
    lines = json.loads(doc)["cost"]["lines"]
    small = [line for line in lines if line["type"].startswith("aws:cloudwatch/") and line["monthly_usd"] < 0.5]
    assert len(small) >= 28  # two per log group, one per alarm
    row = next(line for line in text.splitlines() if line.strip().startswith(f"{len(small)} cloudwatch lines"))
    assert row.split()[-1] == f"{sum(line['monthly_usd'] for line in small):.2f}"
    shown = [row for row in text.split("Monthly cost")[1].split("Total:")[0].splitlines() if " log ingestion " in row]
    assert shown and all(float(row.split()[-1]) >= 0.5 for row in shown)  # only lines of $0.50 or more stand alone
    _, full, _ = _plan("--stack", "prod", "--full")
    assert full.count(" log ingestion ") == sum(line["item"] == "log ingestion" for line in lines) > len(shown)


def test_an_advisory_finding_carries_the_written_reason_of_the_config_or_else_the_rule(prod) -> None:
    from pulumi_policy import Severity

    from ops.sim import policy
    from policies.rules.base import Rule

    def always(args, report) -> None:
        report("found")

    rule = Rule("always-finds", "finds", "to test", Severity.LOW, always, kind="stack")
    weakened = {"always-finds": {"enforcementLevel": "advisory", "enforcementReason": "the stack's own written reason"}}
    assert [f.reason for f in policy.evaluate(prod, weakened, [rule])] == ["the stack's own written reason"]
    assert [f.reason for f in policy.evaluate(prod, {}, [rule])] == [""]  # mandatory: no reason to give
    public_ip = [f for f in policy.evaluate(prod) if f.policy == "ec2-no-public-ipv4"]
    assert [f.reason for f in public_ip] == [
        next(r for r in policy.RULES if r.name == "ec2-no-public-ipv4").advisory_reason
    ]


def test_staging_says_why_its_host_is_public_at_its_edge() -> None:
    """Staging's host serves 80 and 443 itself (edge: host): the advisory reason says so, not the ALB stack's."""
    code, out, _ = _plan("--stack", "staging")
    summary = "\n".join(out.splitlines()[:12])
    assert code == 0 and "[advisory] ec2-no-public-ipv4" in summary
    assert "its Elastic IP is the public edge, open on 80 and 443 only" in summary
    assert "no inbound rule from the internet" not in summary
