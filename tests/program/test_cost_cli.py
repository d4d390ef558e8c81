"""`python -m ops cost`, the cost section of `ops plan`, the price data file and docs/cost.md."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from components.config_sections import INSTANCE_TYPES
from ops.__main__ import build_parser
from ops.cli import cost, plan
from ops.cost import doc as costdoc
from policies.rules.pricing import book as pricing
from policies.rules.pricing.estimate import check_budget
from tests.helpers.cost_programs import real_estimate

# The operator tools driven here read the session's runs of the real program (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("shared_runs")

ROOT = Path(__file__).resolve().parents[2]


def _run(verb: str, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    args = build_parser().parse_args([verb, *argv])
    module = cost if verb == "cost" else plan
    code = module.main(args, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_cost_prints_a_line_per_item_then_the_total_and_budget(stack: str) -> None:
    code, out, err = _run("cost", "--stack", stack)
    assert code == 0, err
    est, config = real_estimate(stack)
    assert f"Total: ${est.total_usd:,.2f}/month" in out
    assert check_budget(est, config.monthly_budget_usd).message in out
    for line in est.lines:
        assert line.item in out


def test_cost_json_lines_add_up_to_the_total() -> None:
    code, out, _ = _run("cost", "--stack", "prod", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["stack"] == "prod" and doc["region"] == "us-east-1" and doc["budget_usd"] == 160
    assert doc["total_usd"] == pytest.approx(sum(line["monthly_usd"] or 0 for line in doc["lines"]), abs=0.01)
    assert {"resource", "item", "quantity", "unit", "unit_usd", "monthly_usd", "assumption"} <= set(doc["lines"][0])


def test_plan_json_cost_key_is_the_estimate() -> None:
    code, out, _ = _run("plan", "--stack", "prod", "--json")
    assert code == 0
    assert json.loads(out)["cost"] == json.loads(json.dumps(real_estimate("prod")[0].plan_json()))


def test_plan_text_has_a_cost_section() -> None:
    code, out, _ = _run("plan", "--stack", "staging")
    assert code == 0
    assert "Monthly cost of stack 'staging'" in out and "Budget:" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--stack", "qa"], "Pulumi.qa.yaml"),
        ([], "give exactly one --stack"),
        (["--stack", "prod", "--stack", "staging"], "give exactly one --stack"),
    ],
)
def test_bad_input_exits_2_with_one_line(argv: list[str], message: str) -> None:
    code, out, err = _run("cost", *argv)
    assert code == 2 and out == ""
    assert message in err and err.startswith("error: ")


def _staging_with(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, old: str, new: str, stack: str = "staging") -> None:
    """A project in tmp_path with the real program and staging's settings, `old` replaced by `new`, as `stack`."""
    text = (ROOT / "Pulumi.staging.yaml").read_text()
    assert old in text
    (tmp_path / f"Pulumi.{stack}.yaml").write_text(text.replace(old, new))
    (tmp_path / "__main__.py").write_text((ROOT / "__main__.py").read_text())
    monkeypatch.setattr("ops.sim.engine.ROOT", tmp_path)
    monkeypatch.syspath_prepend(str(ROOT))


def test_invalid_settings_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _staging_with(tmp_path, monkeypatch, "instanceType: t3.medium", "instanceType: t2.nano", stack="broken")
    code, out, err = _run("cost", "--stack", "broken")
    assert code == 2 and out == ""
    assert "quintas-crm-infra:instanceType" in err


def _stack_with(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, budget: str) -> None:
    _staging_with(tmp_path, monkeypatch, "monthlyBudgetUsd: 50", f"monthlyBudgetUsd: {budget}")


@pytest.mark.parametrize("json_flag", [(), ("--json",)])
def test_over_budget_exits_1_after_printing_the_estimate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, json_flag: tuple[str, ...]
) -> None:
    _stack_with(tmp_path, monkeypatch, "10")
    code, out, err = _run("cost", "--stack", "staging", *json_flag)
    assert code == 1, (out, err)
    if json_flag:
        doc = json.loads(out)
        assert doc["within_budget"] is False and doc["budget_usd"] == 10
    else:
        assert "over the $10.00 budget" in out


@pytest.mark.parametrize("budget", [".nan", ".inf", '"nan"', '"inf"', '"-inf"', "0", "-5"])
def test_a_budget_that_is_not_a_positive_finite_number_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, budget: str
) -> None:
    _stack_with(tmp_path, monkeypatch, budget)
    code, out, err = _run("cost", "--stack", "staging", "--json")
    assert code == 2 and out == "", out
    assert "monthlyBudgetUsd" in err and err.startswith("error: ")


def test_a_broken_price_file_exits_2(tmp_path, monkeypatch) -> None:
    broken = tmp_path / "aws.yaml"
    broken.write_text(pricing.DATA_FILE.read_text().replace("source: ec2}", "}", 1))
    monkeypatch.setattr(pricing, "DATA_FILE", broken)
    code, _, err = _run("cost", "--stack", "prod")
    assert code == 2
    assert "price row 1 lacks source" in err


@pytest.mark.slow  # drives a real tool or process
def test_cli_entry_point_runs_as_a_module() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "ops", "cost", "--stack", "staging"], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert "Total: $" in proc.stdout


def test_every_price_row_names_region_date_source_and_unit() -> None:
    book = pricing.load()
    assert book.regions() == ["us-east-1", "us-west-2"]  # us-west-2: prod's replica region
    for price in book.prices.values():
        assert price.region and price.unit and price.date.startswith("20")
        assert price.source and price.source_url.startswith("https://aws.amazon.com/")


def test_every_allowed_instance_type_has_a_price() -> None:
    book = pricing.load()
    missing = [t for t in INSTANCE_TYPES if book.price("us-east-1", f"ec2.instance.{t}") is None]
    assert missing == []


@pytest.mark.slow  # drives a real tool or process
def test_the_estimate_needs_only_the_packs_own_requirements() -> None:
    """The policy pack prices a stack when served alone: no provider SDK, no `ops`, no `components`."""
    code = (
        "import sys\n"
        "for name in ('pulumi_aws', 'pulumi_docker', 'pulumi_command', 'ops', 'components'):\n"
        "    sys.modules[name] = None\n"
        "from policies.rules.pricing.estimate import check_budget, estimate_resources\n"
        "est = estimate_resources([('aws:ec2/eip:Eip', 'ip', {})], region='us-east-1', environment='staging')\n"
        "print(check_budget(est, 1).message)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "over the $1.00 budget" in proc.stdout  # 3.65 for the address + 0.45 of traffic


@pytest.mark.slow  # drives a real tool or process
def test_docs_cost_md_is_current() -> None:
    committed = (ROOT / "docs" / "cost.md").read_text()
    assert committed == costdoc.render(costdoc.STACKS), (
        "docs/cost.md is stale: run `python -m ops cost --markdown > docs/cost.md`"
    )
