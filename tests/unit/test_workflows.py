"""The GitHub Actions workflows: valid against the workflow schema, and every command they run exists.

Validation uses check-jsonschema's vendored copy of the GitHub workflow schema (no
network). The commands-exist check reads the `run:` steps and the scripts they call,
and checks each `python -m ops <verb>` against ops/__main__.py VERBS, each `make <target>`
against the Makefile, and each script, Dockerfile and policy pack path against the tree,
as they are on the branch under test.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import check_jsonschema
import pytest
import yaml

from ops.__main__ import VERBS
from tests.conftest import require_tool

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
CHECK_JSONSCHEMA = str(Path(sys.executable).parent / "check-jsonschema")
PINNED_ACTION = re.compile(r"^[\w.-]+/[\w./-]+@v\d+\.\d+\.\d+$")


def load(name: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())


def triggers(workflow: dict[Any, Any]) -> dict[str, Any]:
    # YAML 1.1 reads the bare key `on` as the boolean true.
    return workflow.get("on") or workflow[True]


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def run_lines() -> list[str]:
    return [
        line for wf in WORKFLOWS for step in steps(yaml.safe_load(wf.read_text())) for line in _lines(step.get("run"))
    ]


def called_scripts() -> list[str]:
    found = {m for line in run_lines() for m in re.findall(r"scripts/[\w./-]+\.sh", line)}
    return sorted(found)


def commands() -> list[str]:
    """Every command line the workflows run, including those inside the scripts they call."""
    lines = run_lines()
    for script in called_scripts():
        path = ROOT / script
        if path.is_file():
            lines += path.read_text().splitlines()
    return lines


def _lines(run: str | None) -> list[str]:
    return [line.strip() for line in (run or "").splitlines() if line.strip() and not line.strip().startswith("#")]


def make_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return {m for line in text.splitlines() for m in re.findall(r"^([\w.-]+)\s*:(?!=)", line)}


@pytest.mark.slow  # drives a real tool or process
@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_is_valid_against_the_github_schema(workflow: Path) -> None:
    result = subprocess.run(
        [CHECK_JSONSCHEMA, "--builtin-schema", "vendor.github-workflows", str(workflow)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok -- validation done" in result.stdout


@pytest.mark.slow  # drives a real tool or process
def test_schema_check_rejects_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  x:\n    steps:\n      - run: make test\n")  # no runs-on
    result = subprocess.run(
        [CHECK_JSONSCHEMA, "--builtin-schema", "vendor.github-workflows", str(broken)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1 and "runs-on" in result.stdout


def test_the_workflow_schema_is_vendored_so_validation_needs_no_network() -> None:
    vendored = Path(check_jsonschema.__file__).parent / "builtin_schemas" / "vendor" / "github-workflows.json"
    assert vendored.is_file() and vendored.stat().st_size > 10_000


def test_every_ops_verb_a_workflow_runs_exists() -> None:
    verbs = [m for line in commands() for m in re.findall(r"-m ops ([\w-]+)", line)]
    assert {"plan", "cost"} <= set(verbs)
    assert [v for v in verbs if v not in VERBS] == [], f"verbs not in ops/__main__.py VERBS: {sorted(VERBS)}"


def test_every_make_target_a_workflow_runs_exists() -> None:
    used = [t for line in commands() for t in re.findall(r"(?:^|&&|;)\s*make\s+([\w.-]+)", line)]
    assert {"test", "setup"} <= set(used)
    assert sorted(set(used) - make_targets()) == []


def test_every_script_a_workflow_calls_exists_and_is_executable() -> None:
    scripts = called_scripts()
    assert len(scripts) >= 4
    for script in scripts:
        assert (ROOT / script).is_file(), f"{script} is called by a workflow but missing"


def test_every_local_path_a_workflow_builds_from_exists() -> None:
    paths = []
    for wf in WORKFLOWS:
        for job in yaml.safe_load(wf.read_text())["jobs"].values():
            for entry in job.get("strategy", {}).get("matrix", {}).get("include", []):
                paths += [v for v in entry.values() if isinstance(v, str) and v.startswith("infra/")]
    assert "infra/services/frontend/Dockerfile" in paths
    missing = [p for p in paths if not (ROOT / p.removeprefix("infra/")).exists()]
    assert missing == []


def test_policy_pack_a_workflow_names_exists() -> None:
    packs = [m for line in commands() for m in re.findall(r"--policy-pack[= ]([\w./-]+)", line)]
    packs += [
        s["with"]["policyPacks"]
        for wf in WORKFLOWS
        for s in steps(yaml.safe_load(wf.read_text()))
        if "policyPacks" in s.get("with", {})
    ]
    assert packs and all((ROOT / p).is_dir() for p in packs)


@pytest.mark.slow  # drives a real tool or process
@pytest.mark.parametrize("script", called_scripts())
def test_scripts_the_workflows_call_pass_shellcheck(script: str) -> None:
    shellcheck = require_tool("shellcheck", "apt-get install shellcheck")
    result = subprocess.run(
        [shellcheck, "--severity=style", str(ROOT / script)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout


def test_every_action_is_pinned_to_a_full_version() -> None:
    uses = [s["uses"] for wf in WORKFLOWS for s in steps(yaml.safe_load(wf.read_text())) if "uses" in s]
    assert len(uses) > 10
    assert [u for u in uses if not PINNED_ACTION.match(u)] == []


def test_ci_runs_on_pull_requests_and_pushes_to_main_and_develop_with_the_readme_test_command() -> None:
    ci = load("ci.yml")
    on = triggers(ci)
    assert "pull_request" in on and on["push"]["branches"] == ["main", "develop"]
    assert [s["run"] for s in ci["jobs"]["test"]["steps"] if "run" in s] == ["make test"]
    assert "make test" in (ROOT / "README.md").read_text()
    assert ci["jobs"]["plan"]["strategy"]["matrix"]["stack"] == ["staging", "prod"]


def test_preview_runs_pulumi_action_with_policy_pack_pr_comment_and_oidc() -> None:
    job = load("ci.yml")["jobs"]["preview"]
    assert job["permissions"]["id-token"] == "write"
    assert job["strategy"]["matrix"]["stack"] == ["staging", "prod"]
    by_action = {s["uses"].split("@")[0]: s.get("with", {}) for s in job["steps"] if "uses" in s}
    pulumi = by_action["pulumi/actions"]
    assert pulumi["command"] == "preview" and pulumi["comment-on-pr"] is True and pulumi["policyPacks"] == "policies"
    assert pulumi["stack-name"] == "${{ matrix.stack }}"
    # The read-only role of bootstrap/, not the deploy role.
    assert by_action["aws-actions/configure-aws-credentials"]["role-to-assume"] == "${{ vars.AWS_PREVIEW_ROLE_ARN }}"


def test_preview_without_credentials_is_skipped_and_the_offline_plan_posted_instead() -> None:
    jobs = load("ci.yml")["jobs"]
    preview, fallback = jobs["preview"]["if"], jobs["preview-unavailable"]["if"]
    assert preview == "github.event.pull_request.head.repo.fork != true && vars.AWS_PREVIEW_ROLE_ARN != ''"
    assert fallback == "github.event.pull_request.head.repo.fork == true || vars.AWS_PREVIEW_ROLE_ARN == ''"
    assert jobs["preview-unavailable"]["needs"] == "plan"
    assert any("post-offline-plan.sh" in s.get("run", "") for s in jobs["preview-unavailable"]["steps"])


def test_cd_deploys_tags_to_prod_with_one_deploy_at_a_time_and_staging_by_hand() -> None:
    cd = load("cd.yml")
    on = triggers(cd)
    assert on["push"]["tags"] == ["v*"] and "workflow_dispatch" in on
    assert cd["concurrency"] == {"group": "quintas-crm-deploy", "cancel-in-progress": False}
    assert cd["env"]["STACK"] == "${{ github.event_name == 'workflow_dispatch' && 'staging' || 'prod' }}"
    images = {entry["image"] for entry in cd["jobs"]["images"]["strategy"]["matrix"]["include"]}
    assert images == {"frontend", "postgres"}
    runs = " ".join(s.get("run", "") for s in cd["jobs"]["deploy"]["steps"])
    assert "scripts/deploy/pulumi-up.sh" in runs and "scripts/deploy/smoke-test.sh" in runs
    up = (ROOT / "scripts/deploy/pulumi-up.sh").read_text()
    assert "pulumi config set" not in up and "--policy-pack policies" in up
    assert 'pulumi up --yes --stack "$stack"' in up


def test_app_ci_is_reusable_and_builds_with_the_frontend_dockerfile_kept_here() -> None:
    app = load("app-ci.yml")
    assert set(triggers(app)) == {"workflow_call"}
    runs = [s.get("run") for s in app["jobs"]["checks"]["steps"] if "run" in s]
    assert runs[0] == "npm ci --no-audit --no-fund" and len(runs) == 4
    build = [
        s for s in app["jobs"]["docker-build"]["steps"] if s.get("uses", "").startswith("docker/build-push-action")
    ]
    assert build[0]["with"]["file"] == "infra/services/frontend/Dockerfile" and build[0]["with"]["push"] is False


def test_cd_pushes_each_image_to_the_repository_the_stack_pulls_from() -> None:
    from components.workload.registry import repository_prefix

    cd = load("cd.yml")
    push = next(s for s in cd["jobs"]["images"]["steps"] if s.get("uses", "").startswith("docker/build-push-action"))
    wanted = repository_prefix("${{ env.STACK }}") + "${{ matrix.image }}:${{ env.IMAGE_TAG }}"
    assert push["with"]["tags"] == "${{ steps.ecr.outputs.registry }}/" + wanted


def test_preview_reads_the_policy_config_file_of_each_stack() -> None:
    job = load("ci.yml")["jobs"]["preview"]
    pulumi = next(s["with"] for s in job["steps"] if s.get("uses", "").startswith("pulumi/actions"))
    assert pulumi["policyPackConfigs"] == "policies/config/${{ matrix.stack }}.json"
    for stack in job["strategy"]["matrix"]["stack"]:
        assert (ROOT / "policies" / "config" / f"{stack}.json").is_file()
    assert (ROOT / "policies" / "PulumiPolicy.yaml").is_file()
