"""A PostgreSQL server of the drill inside the project's postgres image (Docker).

The production image (services/postgres/Dockerfile, at the tag the prod stack records)
brings the PostgreSQL, PostGIS and barman-cloud versions the stacks run: the drill's
archive_command, backup job and restore all run inside it. The container shares the
host's network (the S3 API server listens on 127.0.0.1) and sees the drill's scratch
directory at the same path, so data directories, the backup job's textfile directory
and restore reports are plain files for the drill to read.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

from ops.cli.image_tags import recorded_tags

ROOT = Path(__file__).resolve().parent.parent
IMAGE_REPOSITORY = "quintas-crm/postgres"
SOCKET_DIR = "/var/run/postgresql"
# The image's Python with barman and boto3: the one the in-image operator tools run on.
IMAGE_PYTHON = "/opt/barman/bin/python3"


class ContainerError(Exception):
    pass


def pinned_image(stack: str = "prod") -> str:
    """The postgres image at the tag the stack's settings file records."""
    return f"{IMAGE_REPOSITORY}:{recorded_tags(stack, ROOT)['postgres']}"


def docker(*args: str, timeout: float = 600, check: bool = True, stdin: str | None = None) -> str:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, input=stdin)
    if check and result.returncode != 0:
        raise ContainerError(f"docker {' '.join(args[:3])} exited {result.returncode}: {result.stderr.strip()[-800:]}")
    return result.stdout


def require_image(image: str) -> None:
    if subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode != 0:
        raise ContainerError(f"image {image} is not in the Docker engine: build it with `make rehearsal`")


def image_postgres_uid(image: str) -> tuple[int, int]:
    out = docker("run", "--rm", "--entrypoint", "id", image, "postgres").split()
    fields = dict(f.split("=", 1) for f in out if "=" in f)
    return int(fields["uid"].split("(")[0]), int(fields["gid"].split("(")[0])


def versions(image: str) -> dict[str, str]:
    """PostgreSQL, PostGIS (package) and barman versions inside the image."""
    script = (
        "postgres --version | awk '{print $3}';"
        " dpkg-query -W -f '${Version}\\n' $(dpkg-query -W -f '${Package}\\n' 'postgresql-*-postgis-3' | head -1);"
        " barman-cloud-wal-archive --version | awk '{print $2}'"
    )
    lines = docker("run", "--rm", "--entrypoint", "sh", image, "-c", script).split()
    return {"postgres": lines[0], "postgis": lines[1], "barman": lines[2]}


class ContainerServer:
    """One postmaster in its own container on `data_dir` (a host path, mounted at the same path)."""

    def __init__(self, image: str, workdir: Path, data_dir: Path, port: int, user: str = "postgres") -> None:
        self.image = image
        self.workdir = workdir
        self.data_dir = data_dir
        self.port = port
        self.user = user
        self.name = f"quintas-drill-{data_dir.name}-{uuid.uuid4().hex[:8]}"
        self.started = False

    def _mount(self) -> list[str]:
        return ["-v", f"{self.workdir}:{self.workdir}"]

    def initdb(self) -> None:
        argv = ["run", "--rm", "-u", "postgres", *self._mount(), "--entrypoint", "initdb", self.image]
        argv += ["-D", str(self.data_dir), "-U", self.user, "--auth=trust", "--encoding=UTF8"]
        docker(*argv, "--locale=C.UTF-8", "--no-sync", timeout=120)

    def start(self, settings: Mapping[str, str], env: Mapping[str, str] | None = None) -> None:
        argv = ["run", "-d", "--name", self.name, "--network", "host", "-u", "postgres", *self._mount()]
        argv += ["--shm-size", "256m", "--entrypoint", "postgres"]
        for key, value in (env or {}).items():
            argv += ["-e", f"{key}={value}"]
        argv += [self.image, "-D", str(self.data_dir), "-p", str(self.port)]
        base = {"unix_socket_directories": SOCKET_DIR, "listen_addresses": "127.0.0.1"}
        for key, value in {**base, **settings}.items():
            argv += ["-c", f"{key}={value}"]
        docker(*argv)
        self.started = True

    def running(self) -> bool:
        if not self.started:
            return False
        state = docker("inspect", "-f", "{{.State.Running}}", self.name, check=False).strip()
        return state == "true"

    def log_tail(self, lines: int = 15) -> str:
        result = subprocess.run(["docker", "logs", "--tail", str(lines), self.name], capture_output=True, text=True)
        return (result.stdout + result.stderr).strip()

    def exec(self, argv: Sequence[str], env: Mapping[str, str] | None = None, timeout: float = 600) -> str:
        args = ["exec", "-u", "postgres"]
        for key, value in (env or {}).items():
            args += ["-e", f"{key}={value}"]
        return docker(*args, self.name, *argv, timeout=timeout)

    def exec_result(self, argv: Sequence[str], env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess:
        args = ["docker", "exec", "-u", "postgres"]
        for key, value in (env or {}).items():
            args += ["-e", f"{key}={value}"]
        return subprocess.run([*args, self.name, *argv], capture_output=True, text=True, timeout=7200)

    def psql(self, sql: str, database: str = "postgres", timeout: float = 1800) -> str:
        argv = ["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", SOCKET_DIR, "-p", str(self.port)]
        return self.exec([*argv, "-U", self.user, "-d", database, "-c", sql], timeout=timeout).strip()

    def wait_accepting(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running():
                raise ContainerError(f"postgres exited while starting; its log ends:\n{self.log_tail()}")
            ready = subprocess.run(
                ["docker", "exec", self.name, "pg_isready", "-q", "-h", SOCKET_DIR, "-p", str(self.port)],
                capture_output=True,
            )
            if ready.returncode == 0:
                return
            time.sleep(0.2)
        raise ContainerError(f"postgres did not accept connections within {timeout:.0f}s:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL the whole container: postmaster, archiver and a running archive_command at once."""
        if self.started:
            docker("kill", "-s", "KILL", self.name, check=False)

    def stop(self, timeout: int = 60) -> None:
        if self.started:
            docker("stop", "-t", str(timeout), self.name, check=False, timeout=timeout + 30)

    def remove(self) -> None:
        if self.started:
            docker("rm", "-f", "-v", self.name, check=False)
            self.started = False


def in_image_ops(image: str, workdir: Path, argv: Sequence[str], env: Mapping[str, str]) -> subprocess.CompletedProcess:
    """`python -m ops.cli.backup ...` inside the image, as the disaster-recovery runbook runs it."""
    args = ["docker", "run", "--rm", "--network", "host", "-v", f"{ROOT}:/ops:ro", "-w", "/ops"]
    args += ["-e", "PYTHONPATH=/ops", "-e", "PYTHONDONTWRITEBYTECODE=1", "-v", f"{workdir}:{workdir}"]
    for key, value in env.items():
        args += ["-e", f"{key}={value}"]
    return subprocess.run([*args, image, IMAGE_PYTHON, "-m", "ops.cli.backup", *argv], capture_output=True, text=True)


def chown_tree(path: Path, uid: int, gid: int) -> None:
    """Hands a host directory to the image's postgres user (the drill runs as root)."""
    path.mkdir(parents=True, exist_ok=True)
    for dirpath, _, files in os.walk(path):
        os.chown(dirpath, uid, gid)
        for name in files:
            with contextlib.suppress(FileNotFoundError):
                os.chown(os.path.join(dirpath, name), uid, gid)
