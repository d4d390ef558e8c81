"""Prometheus alert rules: promtool checks them and runs their unit tests, and every
alert's threshold and `for` are shown to matter by mutating them and watching the
unit tests fail."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import require_tool
from tests.helpers.promql_names import metric_names, series_name

ROOT = Path(__file__).resolve().parents[2]
PROM = ROOT / "services" / "prometheus"
RULES = sorted((PROM / "rules").glob("*.yml"))
RULE_TESTS = sorted((PROM / "tests").glob("*_test.yml"))
RUNBOOK = ROOT / "docs" / "runbooks" / "alerts.md"
PROMTOOL_HINT = "apt-get install prometheus"


def promtool() -> str:
    return require_tool("promtool", PROMTOOL_HINT)


def alerts() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for path in RULES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    found[rule["alert"]] = {**rule, "file": path.name}
    return found


def catalogue() -> dict[str, list[str]]:
    doc = yaml.safe_load((PROM / "exporter-metrics.yml").read_text())
    return doc["jobs"] | {"*": doc["every_job"]}


def catalogued_metrics() -> set[str]:
    return {m for names in catalogue().values() for m in names}


def run_unit_tests(test_files: list[Path], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), "test", "rules", *[str(p) for p in test_files]],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_promtool_accepts_every_rule_file() -> None:
    result = subprocess.run([promtool(), "check", "rules", *map(str, RULES)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(RULES) >= 4


def test_promtool_rule_unit_tests_pass() -> None:
    result = run_unit_tests(RULE_TESTS, PROM)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(RULE_TESTS)
    assert "FAILED" not in result.stdout


def test_every_rule_file_has_a_unit_test_file() -> None:
    tested = {rf for t in RULE_TESTS for rf in yaml.safe_load(t.read_text())["rule_files"]}
    assert tested == {f"../rules/{p.name}" for p in RULES}


def test_the_issue_alerts_exist() -> None:
    expected = {
        "HostCpuHigh",
        "HostMemoryHigh",
        "HostDiskSpaceLow",
        "PostgresConnectionsHigh",
        "SiteDown",
        "WalArchivingFailing",
        "WalArchiveLagging",
        "BaseBackupTooOld",
        "ContainerRestarting",
        "TargetDown",
    }
    assert expected <= set(alerts())


def test_the_seed_plan_thresholds_are_exact() -> None:
    a = alerts()
    assert a["HostCpuHigh"]["expr"].rstrip().endswith("> 80") and a["HostCpuHigh"]["for"] == "5m"
    assert a["HostMemoryHigh"]["expr"].rstrip().endswith("> 80") and a["HostMemoryHigh"]["for"] == "5m"
    disk = a["HostDiskSpaceLow"]["expr"]
    assert disk.rstrip().endswith("< 10") and 'mountpoint=~"/|/srv/data"' in disk
    assert a["PostgresConnectionsHigh"]["expr"].rstrip().endswith("> 90")
    assert "pg_settings_max_connections" in a["PostgresConnectionsHigh"]["expr"]
    assert a["SiteDown"]["for"] == "1m"
    assert "26 * 3600" in a["BaseBackupTooOld"]["expr"]
    assert "3 * pg_settings_archive_timeout_seconds" in a["WalArchiveLagging"]["expr"]


@pytest.mark.parametrize("name", sorted(alerts()))
def test_alert_has_severity_summary_description_and_runbook(name: str) -> None:
    rule = alerts()[name]
    assert rule["labels"]["severity"] in ("critical", "warning")
    notes = rule["annotations"]
    assert notes["summary"].strip() and len(notes["description"]) > len(notes["summary"])
    link = notes["runbook_url"]
    assert link == f"docs/runbooks/alerts.md#{name.lower()}"
    assert re.search(rf"^## {name}$", RUNBOOK.read_text(), re.MULTILINE), f"no section '## {name}' in {RUNBOOK}"


def _unit_cases() -> dict[str, list[tuple[str, list[dict[str, Any]]]]]:
    cases: dict[str, list[tuple[str, list[dict[str, Any]]]]] = {}
    for path in RULE_TESTS:
        for test in yaml.safe_load(path.read_text())["tests"]:
            for case in test.get("alert_rule_test", []):
                cases.setdefault(case["alertname"], []).append((case["eval_time"], case["exp_alerts"]))
    return cases


@pytest.mark.parametrize("name", sorted(alerts()))
def test_alert_has_firing_and_quiet_unit_cases(name: str) -> None:
    cases = _unit_cases().get(name, [])
    assert any(expected for _, expected in cases), f"{name}: no case where it fires"
    assert any(not expected for _, expected in cases), f"{name}: no case where it stays silent"


def test_rules_and_rule_tests_use_only_catalogued_metrics() -> None:
    known = catalogued_metrics()
    used = {m for rule in alerts().values() for m in metric_names(rule["expr"])}
    assert used <= known, f"rules use metrics no scrape job is known to produce: {sorted(used - known)}"
    series = {
        series_name(s["series"])
        for path in RULE_TESTS
        for test in yaml.safe_load(path.read_text())["tests"]
        for s in test["input_series"]
    }
    assert series <= known, f"rule tests feed metrics no scrape job produces: {sorted(series - known)}"
    # Every catalogued metric is really used, so the list stays honest.
    dashboards = (ROOT / "services" / "grafana" / "dashboards").glob("*.json")
    panel_text = " ".join(p.read_text() for p in dashboards)
    unused = {m for m in known if m not in used and m not in panel_text}
    assert not unused, f"catalogued but unused metrics: {sorted(unused)}"


# A change to each alert that its "just below the threshold" or "not before `for`"
# cases must catch. If the unit tests still pass after it, they prove nothing.
THRESHOLD_MUTATIONS = {
    "HostCpuHigh": ("> 80", "> 79"),
    "HostMemoryHigh": ("> 80", "> 79"),
    "HostDiskSpaceLow": ("< 10", "< 11"),
    "PostgresConnectionsHigh": ("> 90", ">= 90"),
    "WalArchivingFailing": ("[2m]", "[10m]"),
    "WalArchiveLagging": ("(3 *", "(2.9 *"),
    "WalArchiveBacklog": ("> 4", "> 5"),
    "BaseBackupTooOld": ("26 * 3600", "26 * 3600 - 1"),
    "DumpBackupTooOld": ("26 * 3600", "26 * 3600 - 1"),
    "BaseBackupStatusMissing": ('{kind="base"}', '{kind="full"}'),
    "SiteDown": ("== 0", "<= 1"),
    "ContainerRestarting": ("> 2", "> 1"),
    "TargetDown": ("== 0", "<= 1"),
    "EdgeErrorRate": ("> 5", "> 5.5"),
}


def test_every_alert_has_a_threshold_mutation() -> None:
    assert set(THRESHOLD_MUTATIONS) == set(alerts())


def _mutated_run(tmp_path: Path, name: str, change: dict[str, str]) -> subprocess.CompletedProcess[str]:
    shutil.copytree(PROM / "rules", tmp_path / "rules")
    shutil.copytree(PROM / "tests", tmp_path / "tests")
    rule_file = tmp_path / "rules" / alerts()[name]["file"]
    doc = yaml.safe_load(rule_file.read_text())
    for group in doc["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") == name:
                rule.update(change)
    rule_file.write_text(yaml.safe_dump(doc, sort_keys=False))
    tests = [p for p in (tmp_path / "tests").glob("*_test.yml") if f"../rules/{rule_file.name}" in p.read_text()]
    return run_unit_tests(tests, tmp_path)


@pytest.mark.parametrize("name", sorted(THRESHOLD_MUTATIONS))
def test_unit_tests_catch_a_moved_threshold(tmp_path: Path, name: str) -> None:
    old, new = THRESHOLD_MUTATIONS[name]
    expr = alerts()[name]["expr"]
    assert old in expr
    result = _mutated_run(tmp_path, name, {"expr": expr.replace(old, new)})
    assert result.returncode != 0 and name in result.stdout + result.stderr, result.stdout


@pytest.mark.parametrize("name", sorted(THRESHOLD_MUTATIONS))
def test_unit_tests_catch_a_dropped_for(tmp_path: Path, name: str) -> None:
    assert alerts()[name]["for"] not in ("0s", "0m")
    result = _mutated_run(tmp_path, name, {"for": "0s"})
    assert result.returncode != 0 and name in result.stdout + result.stderr, result.stdout
