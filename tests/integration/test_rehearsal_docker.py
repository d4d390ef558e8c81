"""scripts/with-docker.sh's choice of storage driver, against stand-in `dockerd` and `docker` programs.

The fakes keep the engine's state in files: `dockerd` records each start and exits at once when
its driver is listed in FAIL_START, else answers until it is stopped; `docker run` fails on
the drivers listed in FAIL_RUN. No real engine is started.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "with-docker.sh"

DOCKERD = """#!/bin/bash
driver=${1#--storage-driver=}
echo "$*" >> "$STATE/starts"
case " $FAIL_START " in *" $driver "*) echo "error initializing graphdriver: driver not supported"; exit 1;; esac
echo "$driver" > "$STATE/running"
trap 'rm -f "$STATE/running"; echo "$driver" >> "$STATE/stopped"; exit 0' TERM
while :; do sleep 0.1; done
"""

DOCKER = """#!/bin/bash
[ -e "$STATE/running" ] || exit 1
driver=$(cat "$STATE/running")
case "$1" in
  info) [ "$2" = --format ] && echo 20.10.24; exit 0;;
  import) cat >/dev/null; echo "sha256:0"; exit 0;;
  run) case " $FAIL_RUN " in *" $driver "*) echo "error mounting overlay" >&2; exit 125;; esac; exit 0;;
  *) exit 0;;
esac
"""


def _run(tmp_path: Path, *command: str, **env: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    bin_dir, state = tmp_path / "bin", tmp_path / "state"
    bin_dir.mkdir()
    state.mkdir()
    for name, text in {"dockerd": DOCKERD, "docker": DOCKER, "docker-init": "#!/bin/sh\n"}.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    environ = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "STATE": str(state), "TMPDIR": str(tmp_path)}
    environ.pop("DOCKER_STORAGE_DRIVER", None)
    result = subprocess.run(
        ["bash", str(SCRIPT), *command], env={**environ, **env}, capture_output=True, text=True, timeout=60
    )
    return result, state


def _lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the script starts dockerd only as root")


def test_overlay2_is_used_where_it_runs_a_container(tmp_path: Path) -> None:
    result, state = _run(tmp_path, "true")
    assert result.returncode == 0, result.stderr
    assert "(storage driver overlay2) for this run" in result.stdout
    assert _lines(state / "starts") == ["--storage-driver=overlay2"]
    assert _lines(state / "stopped") == ["overlay2"]  # stopped after the command


def test_vfs_when_overlay2_does_not_start(tmp_path: Path) -> None:
    result, state = _run(tmp_path, "true", FAIL_START="overlay2")
    assert result.returncode == 0, result.stderr
    assert "overlay2 storage driver unusable here (dockerd exited at start" in result.stdout
    assert "(storage driver vfs) for this run" in result.stdout
    assert _lines(state / "stopped") == ["vfs"]


def test_vfs_when_overlay2_starts_but_runs_no_container_and_the_first_engine_is_stopped(tmp_path: Path) -> None:
    result, state = _run(tmp_path, "sh", "-c", "exit 3", FAIL_RUN="overlay2")
    assert result.returncode == 3  # the command's own exit status
    assert "a container did not run: error mounting overlay" in result.stdout
    assert _lines(state / "stopped") == ["overlay2", "vfs"]  # each engine it started, also when the command fails
    assert not (state / "running").exists()


def test_the_chosen_driver_and_data_root_are_passed_and_not_replaced(tmp_path: Path) -> None:
    result, state = _run(
        tmp_path, "true", DOCKER_STORAGE_DRIVER="overlay2", DOCKER_DATA_ROOT="/tmp/x", FAIL_RUN="overlay2"
    )
    assert result.returncode == 0, result.stderr
    assert (state / "starts").read_text().strip() == "--storage-driver=overlay2 --data-root=/tmp/x"
    assert "(storage driver overlay2, data root /tmp/x)" in result.stdout


def test_an_explicit_driver_that_fails_is_an_error(tmp_path: Path) -> None:
    result, state = _run(tmp_path, "true", DOCKER_STORAGE_DRIVER="overlay2", FAIL_START="overlay2")
    assert result.returncode == 1
    assert "error: dockerd exited at start" in result.stderr
    assert _lines(state / "starts") == ["--storage-driver=overlay2"]
