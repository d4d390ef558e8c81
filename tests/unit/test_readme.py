"""README.md as a newcomer uses it: the two first commands, runnable blocks that run as written
on a fresh copy, links that resolve, and `make check` without root or system packages.

A fenced block preceded by the line `<!-- runnable -->` is cheap, offline and run by
`test_readme_runnable_blocks_pass_on_a_fresh_copy`, line by line with `bash -e`, in a
copy of the repository's files that uses the project's existing virtualenv.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUNNABLE = "<!-- runnable -->"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.S | re.M)
# The Debian packages of scripts/install-system-deps.sh, and what installs them.
SYSTEM_STEPS = ("system-deps", "install-system-deps", "apt-get", "sudo", "dpkg")


def fenced_blocks(text: str) -> list[tuple[bool, str, str]]:
    """Every fenced block as (marked runnable, info string, body), in order."""
    blocks = []
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        blocks.append((before.strip() == RUNNABLE, match.group(1), match.group(2)))
    return blocks


def commands(body: str) -> list[str]:
    """The command lines of a shell block, comments after `#` dropped."""
    found = []
    for line in body.splitlines():
        command = re.sub(r"\s+#.*$", "", line).strip()
        if command and not command.startswith("#"):
            found.append(command)
    return found


README = (ROOT / "README.md").read_text()


def test_the_first_two_commands_plan_staging_then_run_every_test() -> None:
    first, second = [b for b in fenced_blocks(README) if b[1] in ("sh", "bash")][:2]
    assert first[0] and commands(first[2]) == ["make plan"]
    assert commands(second[2]) == ["make test"]
    makefile = (ROOT / "Makefile").read_text()
    assert "\nSTACK ?= staging\n" in makefile and "$(PY) -m ops plan --stack $(STACK)" in makefile
    # CI runs the same test command the README gives.
    assert (ROOT / ".ci" / "run").read_text().rstrip().endswith("\nmake test")


def test_readme_commands_use_the_virtualenv_python() -> None:
    lines = [c for _, info, body in fenced_blocks(README) if info in ("sh", "bash") for c in commands(body)]
    assert any(c.startswith(".venv/bin/python -m ops ") for c in lines)
    assert [c for c in lines if re.search(r"(?<![/\w])python3? -m ops", c)] == []


def test_readme_has_prerequisites_times_a_map_and_links_that_resolve() -> None:
    for heading in ("## Prerequisites", "## What the two commands do", "## What is where", "## Documentation"):
        assert f"\n{heading}\n" in README, heading
    assert re.search(r"about 70 s", README) and re.search(r"`bash .ci/run` took \d+ s", README)
    links = re.findall(r"\]\(((?:docs|\.)[^)#]*)", README)
    for wanted in (
        "going-live.md",
        "settings.md",
        "architecture.md",
        "runbooks/",
        "policies.md",
        "cost.md",
        "rehearsal.md",
    ):
        assert f"docs/{wanted}" in links, wanted
    assert [link for link in links if not (ROOT / link).exists()] == []


def test_make_check_needs_no_root_and_no_system_package() -> None:
    """`make -n check` lists what it would run: nothing installs a Debian package or asks for root."""
    make = shutil.which("make")
    if make is None:
        pytest.fail("make is not installed; install it with: apt-get install make")
    steps = subprocess.run(
        [make, "-n", "-B", "check", f"VENV={Path(sys.prefix)}"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "pytest" in steps and "ruff" in steps and "lint-imports" in steps
    assert [s for s in steps.splitlines() if any(word in s for word in SYSTEM_STEPS)] == []


def fresh_copy(target: Path) -> Path:
    """The repository's files (tracked, and new ones git does not ignore) copied as a fresh clone has them,
    with `.venv` the virtualenv running this test: its setup counts as current for the copy."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    venv = Path(sys.prefix)
    installed = venv / ".installed"
    if not installed.is_file():
        pytest.fail(f"{venv} has no .installed mark: set the virtualenv up with `make setup` first")
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file() and not source.is_symlink():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
            # No file of the copy is newer than the virtualenv's setup, as on a clone set up after checkout.
            stamp = installed.stat().st_mtime - 1
            os.utime(target / name, (stamp, stamp))
    (target / ".venv").symlink_to(venv)
    return target


@pytest.mark.slow  # runs make and the verbs as processes
def test_readme_runnable_blocks_pass_on_a_fresh_copy(tmp_path: Path) -> None:
    blocks = [body for runnable, _, body in fenced_blocks(README) if runnable]
    assert len(blocks) >= 2
    copy = fresh_copy(tmp_path / "repo")
    for body in blocks:
        for command in commands(body):
            result = subprocess.run(
                ["bash", "-e", "-c", command], cwd=copy, capture_output=True, text=True, timeout=300
            )
            assert result.returncode == 0, f"{command}\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
            assert result.stdout.strip(), command
            assert "setup: installing" not in result.stdout, "the copy's virtualenv counted as stale"


def test_cold_setup_says_each_step_and_lets_pip_show_its_progress() -> None:
    """A cold `make plan` spends about a minute in pip: the wait is announced and pip is not silenced."""
    make = shutil.which("make")
    if make is None:
        pytest.fail("make is not installed; install it with: apt-get install make")
    steps = subprocess.run(
        [make, "-n", "-B", "setup", "VENV=/nonexistent/venv"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    install = next(i for i, s in enumerate(steps) if "pip install" in s and "requirements-dev.txt" in s)
    assert "--quiet" not in steps[install] and " -q" not in steps[install]
    assert any(s.startswith("echo") and "setup: installing requirements-dev.txt" in s for s in steps[:install])
