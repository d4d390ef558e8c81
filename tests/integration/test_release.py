"""Releases keep the repository true, and deploys carry the key they need (issue 14, items 2 and 6).

A release deploys the image tags its commit records in Pulumi.<stack>.yaml: CD reads
them (`python -m ops image-tags`), pushes those tags unless ECR already holds them and
runs `pulumi up` on the same checkout without changing a setting. The deploy job writes
the deploy key before anything connects; previews need none. The scripts run for real
here with stand-ins for `aws`, `pulumi` and the SSM plugin.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from components.config_sections import REQUIRED_IMAGES
from components.workload.ssh_path import DEPLOY_KEY
from ops.sim import engine
from tests.conftest import shipped, simulate
from tests.unit.test_workflows import WORKFLOWS, commands, load

ROOT = Path(__file__).resolve().parents[2]
DEPLOYS = re.compile(r"pulumi up\b|pulumi-up\.sh")
KEY_STEP = "scripts/deploy/ssh-key.sh"


def jobs() -> list[tuple[str, dict[str, Any]]]:
    import yaml

    return [
        (f"{wf.name}:{name}", job) for wf in WORKFLOWS for name, job in yaml.safe_load(wf.read_text())["jobs"].items()
    ]


def script(
    name: str, *args: str, cwd: Path = ROOT, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(ROOT / "scripts" / "deploy" / name), *args],
        cwd=cwd,
        env={**os.environ, "PYTHON": sys.executable, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def stand_in(bin_dir: Path, name: str, body: str) -> None:
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
    (bin_dir / name).chmod(0o755)


# ----------------------------------------------------------------- what runs is what is recorded


def test_no_workflow_or_script_changes_a_stack_setting_at_deploy_time() -> None:
    lines = commands()
    assert any(DEPLOYS.search(line) for line in lines)
    assert [
        line for line in lines if "pulumi config set" in line or re.search(r"pulumi up .*(--config|-c )", line)
    ] == []


def test_cd_pushes_and_deploys_the_tags_the_release_checkout_records() -> None:
    cd = load("cd.yml")
    tags = cd["jobs"]["tags"]
    assert set(tags["outputs"]) == set(REQUIRED_IMAGES)
    assert any('-m ops image-tags --stack "$STACK"' in s.get("run", "") for s in tags["steps"])
    images = cd["jobs"]["images"]
    assert images["needs"] == "tags"
    assert {e["image"] for e in images["strategy"]["matrix"]["include"]} == set(REQUIRED_IMAGES)
    assert images["env"]["IMAGE_TAG"] == "${{ needs.tags.outputs[matrix.image] }}"
    push = next(s for s in images["steps"] if s.get("uses", "").startswith("docker/build-push-action"))
    assert push["with"]["tags"].endswith(":${{ env.IMAGE_TAG }}")
    # The tags are read from, and deployed from, the same commit.
    for job in (tags, cd["jobs"]["deploy"]):
        checkout = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout"))
        assert checkout["with"]["ref"] == "${{ env.RELEASE_TAG }}"
    deploy = " ".join(s.get("run", "") for s in cd["jobs"]["deploy"]["steps"])
    assert 'scripts/deploy/pulumi-up.sh "$STACK" "$RELEASE_TAG"' in deploy


def test_image_tags_prints_what_the_stack_file_records() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ops", "image-tags", "--stack", "prod"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["frontend=1.0.0", "postgres=16-3.4-barman-2"]
    assert (
        shipped("prod").config["quintas-crm-infra:imageTags"] == '{"frontend": "1.0.0", "postgres": "16-3.4-barman-2"}'
    )


def test_image_tags_refuses_a_stack_file_without_a_tag(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.x.yaml").write_text("config:\n  quintas-crm-infra:imageTags:\n    frontend: v2\n")
    from ops.cli.image_tags import recorded_tags

    with pytest.raises(engine.SettingsFileError, match="records no imageTags for: postgres"):
        recorded_tags("x", tmp_path)


def test_an_app_release_leaves_the_postgres_containers_unchanged() -> None:
    before = shipped("staging")
    after = simulate("staging", imageTags={"frontend": "v9.9.9", "postgres": "16-3.4-barman-2"})
    container = "docker:index/container:Container"
    image = "docker:index/remoteImage:RemoteImage"
    assert before.one(image, "frontend").inputs["name"] != after.one(image, "frontend").inputs["name"]
    for name in ("postgres", "backup"):  # the backup job runs the postgres image too
        assert before.one(image, name).inputs == after.one(image, name).inputs
        assert before.one(container, name).inputs == after.one(container, name).inputs


def test_a_rerun_skips_images_ecr_already_holds(tmp_path: Path) -> None:
    images = load("cd.yml")["jobs"]["images"]["steps"]
    check = next(i for i, s in enumerate(images) if "image-exists.sh" in s.get("run", ""))
    assert images[check]["id"] == "existing"
    later = [s for s in images[check + 1 :]]
    assert later and all("steps.existing.outputs.found != 'true'" in s["if"] for s in later)

    bin_dir, out = tmp_path / "bin", tmp_path / "out"
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "GITHUB_OUTPUT": str(out)}
    stand_in(bin_dir, "aws", 'echo "$@" > ' + str(tmp_path / "args"))
    assert script("image-exists.sh", "quintas-crm/prod/frontend", "v1.4.0", env=env).returncode == 0
    assert out.read_text() == "found=true\n"
    assert "--repository-name quintas-crm/prod/frontend --image-ids imageTag=v1.4.0" in (tmp_path / "args").read_text()
    stand_in(bin_dir, "aws", "echo 'An error occurred (ImageNotFoundException)' >&2; exit 254")
    assert script("image-exists.sh", "quintas-crm/prod/frontend", "v1.4.1", env=env).returncode == 0
    assert out.read_text().splitlines()[-1] == "found=false"
    stand_in(bin_dir, "aws", "echo 'An error occurred (AccessDeniedException)' >&2; exit 254")
    denied = script("image-exists.sh", "quintas-crm/prod/frontend", "v1.4.1", env=env)
    assert denied.returncode == 1 and "AccessDeniedException" in denied.stderr


def test_the_directus_image_with_extensions_is_no_longer_built() -> None:
    built = {e["image"] for e in load("cd.yml")["jobs"]["images"]["strategy"]["matrix"]["include"]}
    assert "directus" not in built and not (ROOT / "services/directus/Dockerfile").exists()


def _release_checkout(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "Pulumi.prod.yaml").write_text((ROOT / "Pulumi.prod.yaml").read_text())
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "release"], check=True)
    bin_dir = tmp_path / "bin"
    stand_in(bin_dir, "pulumi", f'echo "$@" >> {tmp_path}/pulumi-calls')
    return repo, {"PATH": f"{bin_dir}:{os.environ['PATH']}", "PYTHONPATH": str(ROOT)}


def test_pulumi_up_deploys_the_committed_settings_without_changing_them(tmp_path: Path) -> None:
    repo, env = _release_checkout(tmp_path)
    result = script("pulumi-up.sh", "prod", "v1.4.0", cwd=repo, env=env)
    assert result.returncode == 0, result.stderr
    assert "frontend=1.0.0\npostgres=16-3.4-barman-2" in result.stdout
    calls = (tmp_path / "pulumi-calls").read_text().splitlines()
    assert calls == ["stack select prod", "up --yes --stack prod --policy-pack policies --message release v1.4.0"]


def test_pulumi_up_refuses_uncommitted_stack_settings(tmp_path: Path) -> None:
    repo, env = _release_checkout(tmp_path)
    settings = repo / "Pulumi.prod.yaml"
    settings.write_text(settings.read_text().replace("frontend: 1.0.0", "frontend: 1.0.1"))
    result = script("pulumi-up.sh", "prod", "v1.4.0", cwd=repo, env=env)
    assert result.returncode == 2 and "Pulumi.prod.yaml has uncommitted changes" in result.stderr
    assert not (tmp_path / "pulumi-calls").exists()


def test_pulumi_up_refuses_latest_before_touching_the_stack(tmp_path: Path) -> None:
    result = script("pulumi-up.sh", "prod", "latest", env={"PATH": f"{tmp_path}:/usr/bin:/bin"})
    assert result.returncode == 2 and "must be a fixed version" in result.stderr


# ----------------------------------------------------------------- the deploy key


def test_every_step_that_deploys_has_the_deploy_key_before_it() -> None:
    deploying = 0
    for name, job in jobs():
        steps = job.get("steps", [])
        for index, step in enumerate(steps):
            if not DEPLOYS.search(step.get("run", "")) and step.get("with", {}).get("command") != "up":
                continue
            deploying += 1
            keys = [s for s in steps[:index] if KEY_STEP in s.get("run", "")]
            assert keys, f"{name}: a step deploys without running {KEY_STEP} first"
            assert keys[0]["env"]["DEPLOY_SSH_KEY"] == "${{ secrets.DEPLOY_SSH_KEY }}", name
            assert "environment" in job, f"{name}: DEPLOY_SSH_KEY is an environment secret"
    assert deploying >= 1


def test_pull_request_previews_never_see_the_deploy_key() -> None:
    ci = (ROOT / ".github/workflows/ci.yml").read_text()
    assert "DEPLOY_SSH_KEY" not in ci


def test_the_key_script_writes_where_the_ssh_options_look() -> None:
    text = (ROOT / "scripts/deploy/ssh-key.sh").read_text()
    assert DEPLOY_KEY.startswith("~/") and f'key="$HOME/{DEPLOY_KEY[2:]}"' in text


@pytest.fixture
def key_home(tmp_path: Path) -> tuple[Path, dict[str, str], str]:
    """A HOME, a PATH with the SSM plugin stand-in, a fresh key pair and a stack file with its public half."""
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "k")], check=True)
    public = (tmp_path / "k.pub").read_text().strip()
    (work / "Pulumi.prod.yaml").write_text(f"config:\n  quintas-crm-infra:operatorPublicKey: {public}\n")
    stand_in(tmp_path / "bin", "session-manager-plugin", "exit 0")
    env = {"HOME": str(home), "PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin"}
    return work, env, (tmp_path / "k").read_text()


def test_the_key_script_installs_a_key_that_matches_the_stack(key_home: tuple[Path, dict[str, str], str]) -> None:
    work, env, private = key_home
    result = script("ssh-key.sh", "prod", cwd=work, env={**env, "DEPLOY_SSH_KEY": private})
    assert result.returncode == 0, result.stdout + result.stderr
    key = Path(env["HOME"]) / DEPLOY_KEY[2:]
    assert key.read_text().strip() == private.strip() and key.stat().st_mode & 0o777 == 0o600


def test_the_key_script_refuses_a_missing_or_foreign_key(
    key_home: tuple[Path, dict[str, str], str], tmp_path: Path
) -> None:
    work, env, _ = key_home
    empty = script("ssh-key.sh", "prod", cwd=work, env={**env, "DEPLOY_SSH_KEY": ""})
    assert empty.returncode == 1 and "the secret DEPLOY_SSH_KEY of environment prod is empty" in empty.stdout
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other")], check=True)
    foreign = script("ssh-key.sh", "prod", cwd=work, env={**env, "DEPLOY_SSH_KEY": (tmp_path / "other").read_text()})
    assert foreign.returncode == 1 and "does not match operatorPublicKey" in foreign.stdout
    (tmp_path / "bin" / "session-manager-plugin").unlink()
    no_plugin = script("ssh-key.sh", "prod", cwd=work, env={**env, "DEPLOY_SSH_KEY": "x"})
    assert no_plugin.returncode == 1 and "session-manager-plugin is not installed" in no_plugin.stdout
