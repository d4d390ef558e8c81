"""A PostgreSQL server on this machine, run as the `postgres` system user.

Used by `ops backup restore` (to recover and verify a restored data directory)
and by the backup drill (a scratch primary). PostgreSQL refuses to run as root,
so when the caller is root every server process and every file operation on a
data directory is handed to the `postgres` user; the server's own children
(archive_command, restore_command) inherit that user and this environment.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

POSTGRES_USER = "postgres"
PG_BIN_CANDIDATES = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name), reverse=True)


class ServerError(Exception):
    pass


def find_pg_bin(explicit: str | None = None) -> Path:
    """The PostgreSQL bin directory: the explicit one, or the newest Debian-installed version."""
    candidates = [Path(explicit)] if explicit else PG_BIN_CANDIDATES
    for candidate in candidates:
        if (candidate / "postgres").is_file() and (candidate / "pg_ctl").is_file():
            return candidate
    where = explicit or "/usr/lib/postgresql/*/bin"
    raise ServerError(f"no PostgreSQL server binaries in {where}: install postgresql-NN or pass --pg-bin DIR")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _postgres_account() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(POSTGRES_USER)
    except KeyError as exc:
        raise ServerError("there is no `postgres` system user: install the postgresql package") from exc


def as_postgres() -> dict[str, Any]:
    """subprocess keyword arguments that run a command as the postgres user (when we are root)."""
    if os.geteuid() != 0:
        return {"cwd": "/"}
    account = _postgres_account()
    return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": [], "cwd": "/"}


def postgres_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of postgres-user commands: ours (AWS settings included) with its own HOME."""
    env = dict(os.environ)
    if os.geteuid() == 0:
        env["HOME"] = _postgres_account().pw_dir
    # The operator tools' virtualenv is root's; the server's commands are the system ones.
    env["PATH"] = "/usr/local/bin:/usr/bin:/bin"
    env.pop("PYTHONPATH", None)
    env.pop("VIRTUAL_ENV", None)
    env.update(extra or {})
    return env


def give_to_postgres(path: Path, mode: int = 0o700) -> None:
    """Makes a directory the postgres user's own (a no-op when we are not root)."""
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, mode)
    if os.geteuid() == 0:
        account = _postgres_account()
        os.chown(path, account.pw_uid, account.pw_gid)


def run_as_postgres(
    argv: Sequence[str], env: Mapping[str, str] | None = None, timeout: float | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        list(argv), env=postgres_env(env), capture_output=True, text=True, timeout=timeout, **as_postgres()
    )
    if check and result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()[-5:]
        raise ServerError(f"{Path(argv[0]).name} exited {result.returncode}: {' | '.join(detail)}")
    return result


class LocalServer:
    """One postmaster on `data_dir`, reachable on its private socket dir and optionally on 127.0.0.1:port."""

    def __init__(
        self,
        data_dir: Path,
        pg_bin: Path,
        socket_dir: Path,
        port: int | None = None,
        log_file: Path | None = None,
        user: str = POSTGRES_USER,
    ) -> None:
        self.data_dir = data_dir
        # The role psql logs in as: a cluster made here has `postgres`; a restored stack
        # cluster has only its owner role (the image's POSTGRES_USER).
        self.user = user
        self.pg_bin = pg_bin
        self.socket_dir = socket_dir
        self.port = port if port is not None else free_port()
        self.log_file = log_file or socket_dir / "postgres.log"
        self.process: subprocess.Popen[Any] | None = None

    def initdb(self) -> None:
        give_to_postgres(self.data_dir)
        run_as_postgres(
            [str(self.pg_bin / "initdb"), "-D", str(self.data_dir), "-U", self.user, "--auth=trust"]
            + ["--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"],
            timeout=120,
        )

    def start(self, settings: Mapping[str, str], env: Mapping[str, str] | None = None, tcp: bool = True) -> None:
        give_to_postgres(self.socket_dir, 0o755)
        args = [str(self.pg_bin / "postgres"), "-D", str(self.data_dir), "-p", str(self.port)]
        base = {"unix_socket_directories": str(self.socket_dir), "listen_addresses": "127.0.0.1" if tcp else ""}
        for name, value in {**base, **settings}.items():
            args += ["-c", f"{name}={value}"]
        with open(self.log_file, "ab") as log:
            self.process = subprocess.Popen(
                args,
                env=postgres_env(env),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **as_postgres(),
            )

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 15) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def psql(self, sql: str, database: str = "postgres", timeout: float = 600) -> str:
        argv = [str(self.pg_bin / "psql"), "-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", str(self.socket_dir)]
        argv += ["-p", str(self.port), "-U", self.user, "-d", database, "-c", sql]
        return run_as_postgres(argv, timeout=timeout).stdout.strip()

    def wait_accepting(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running():
                raise ServerError(f"postgres exited while starting; its log ends:\n{self.log_tail()}")
            ready = run_as_postgres(
                [str(self.pg_bin / "pg_isready"), "-q", "-h", str(self.socket_dir), "-p", str(self.port)], check=False
            )
            if ready.returncode == 0:
                return
            time.sleep(0.2)
        raise ServerError(
            f"postgres did not accept connections within {timeout:.0f}s; its log ends:\n{self.log_tail()}"
        )

    def stop(self, timeout: float = 60) -> None:
        """Fast shutdown (a clean checkpoint); SIGKILL if it does not finish in time."""
        if not self.running():
            return
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.process.pid, signal.SIGINT)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL the postmaster and every child (archiver, archive_command): a lost host."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(30)


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
