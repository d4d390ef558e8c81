"""The scripts the workflows run, executed for real: smoke test, offline plan, and their refusals.

The smoke test runs against a local HTTP server on 127.0.0.1 standing in for the app
and cms; the offline plan script runs the real `python -m ops plan`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import require_tool
from tests.helpers.cutover_world import HealthServer

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def site() -> Iterator[HealthServer]:
    server = HealthServer()
    yield server
    server.stop()


def smoke(tmp_path: Path, outputs: dict[str, str] | str, **env: str) -> subprocess.CompletedProcess[str]:
    require_tool("curl", "apt-get install curl")
    path = tmp_path / "outputs.json"
    path.write_text(outputs if isinstance(outputs, str) else json.dumps(outputs))
    return subprocess.run(
        ["bash", str(ROOT / "scripts/deploy/smoke-test.sh"), str(path), "prod"],
        env=dict(os.environ, SMOKE_ATTEMPTS="2", SMOKE_DELAY="0", **env),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def urls(site: HealthServer) -> dict[str, str]:
    # The stand-in routes by Host, so address it by name through its loopback port.
    port = site.base_url.rsplit(":", 1)[1]
    return {"appUrl": f"http://app.quintas-crm.example:{port}", "cmsUrl": f"http://cms.quintas-crm.example:{port}"}


def test_smoke_test_passes_when_app_and_cms_answer(site: HealthServer, tmp_path: Path) -> None:
    result = smoke(tmp_path, urls(site), **_curl_resolving(tmp_path, site))
    assert result.returncode == 0, result.stderr
    assert "smoke test passed on stack prod" in result.stdout
    assert sorted(site.seen) == [
        ("app.quintas-crm.example", "/api/health"),
        ("cms.quintas-crm.example", "/server/ping"),
    ]


def test_smoke_test_failure_prints_the_rollback_command(site: HealthServer, tmp_path: Path) -> None:
    site.failing.add("cms.quintas-crm.example")
    result = smoke(tmp_path, urls(site), PREVIOUS_RELEASE="v1.3.0", **_curl_resolving(tmp_path, site))
    assert result.returncode == 1
    assert "SMOKE TEST FAILED on stack prod" in result.stderr
    assert "git checkout v1.3.0 && bash scripts/deploy/pulumi-up.sh prod v1.3.0" in result.stderr
    assert "revert the release commit on main" in result.stderr
    assert "attempt 2 of 2" in result.stdout


def test_smoke_test_refuses_outputs_without_urls(tmp_path: Path) -> None:
    result = smoke(tmp_path, {"albDnsName": "x"})
    assert result.returncode == 2 and "has no appUrl or cmsUrl output" in result.stderr


def test_smoke_test_refuses_outputs_that_are_not_json(tmp_path: Path) -> None:
    result = smoke(tmp_path, "not json")
    assert result.returncode == 2 and "cannot read" in result.stderr


def _curl_resolving(tmp_path: Path, site: HealthServer) -> dict[str, str]:
    """A curl config (read through CURL_HOME) that resolves both names to the loopback stand-in."""
    port = site.base_url.rsplit(":", 1)[1]
    (tmp_path / ".curlrc").write_text(
        f"resolve = app.quintas-crm.example:{port}:127.0.0.1\nresolve = cms.quintas-crm.example:{port}:127.0.0.1\n"
    )
    return {"CURL_HOME": str(tmp_path)}


def test_offline_plan_script_saves_the_plan_and_writes_the_summary(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    result = subprocess.run(
        ["bash", str(ROOT / "scripts/ci/offline-plan.sh"), "staging", str(tmp_path / "plan" / "staging.txt")],
        cwd=ROOT,
        env=dict(os.environ, PYTHON=sys.executable, GITHUB_STEP_SUMMARY=str(summary)),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    plan = (tmp_path / "plan" / "staging.txt").read_text()
    assert plan.startswith("Plan of stack 'staging': provider outputs are simulated")
    assert "### Offline plan of `staging` (exit code 0)" in summary.read_text()


def test_offline_plan_script_keeps_the_plan_exit_code(tmp_path: Path) -> None:
    result = subprocess.run(
        ["bash", str(ROOT / "scripts/ci/offline-plan.sh"), "no-such-stack", str(tmp_path / "p.txt")],
        cwd=ROOT,
        env=dict(os.environ, PYTHON=sys.executable),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 2
    assert "::error title=offline plan of no-such-stack failed::" in result.stdout


def test_posting_the_offline_plan_says_why_preview_was_skipped(tmp_path: Path) -> None:
    plan = tmp_path / "staging.txt"
    plan.write_text("Plan of stack 'staging': ...\n")
    summary = tmp_path / "summary.md"
    env = {k: v for k, v in os.environ.items() if k not in ("PR_NUMBER", "GH_TOKEN")}
    result = subprocess.run(
        [
            "bash",
            str(ROOT / "scripts/ci/post-offline-plan.sh"),
            "staging",
            str(plan),
            "pull requests from forks get no AWS credentials",
        ],
        env=dict(env, GITHUB_STEP_SUMMARY=str(summary)),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("::notice title=pulumi preview of staging skipped::pull requests from forks")
    assert "Plan of stack 'staging'" in summary.read_text()
