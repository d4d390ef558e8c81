"""Point-in-time restore from Barman Cloud into a new data directory, then verification.

Steps: pick the base backup (the newest, or the newest that ended before the
target time), download it with barman-cloud-restore, write the recovery settings
(restore_command with barman-cloud-wal-restore, recovery_target_time unless
`latest`, promote) and recovery.signal, start PostgreSQL on a private socket,
wait until recovery has ended, then verify: row counts of every table, checksums
of the tables named, `postgis_full_version()`. The server is stopped cleanly at
the end so the directory is ready for the postgres container. The restored
server never archives: a drill must not add a timeline to the stack's archive.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from components.backups import CRM_DATABASE, SUPERUSER, BackupTarget, restore_command
from ops.backup.postgres_local import (
    LocalServer,
    as_postgres,
    give_to_postgres,
    postgres_env,
    run_as_postgres,
)
from ops.backup.verify import BaseBackup, base_backups

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?")
_RECOVERY_BEGIN = "# quintas restore: recovery settings (removed after verification)"


class RestoreError(Exception):
    pass


@dataclass
class RestoreReport:
    backup_id: str
    target: str
    target_dir: str
    started_at: float
    recovered_at: float = 0.0
    verified_at: float = 0.0
    database: str = CRM_DATABASE
    row_counts: dict[str, int] = field(default_factory=dict)
    checksums: dict[str, str] = field(default_factory=dict)
    postgis: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def parse_target(value: str) -> dt.datetime | None:
    """`latest` -> None, otherwise an aware datetime (a time without offset is UTC)."""
    if value == "latest":
        return None
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise RestoreError(
            f"--to {value!r} is neither `latest` nor an ISO time such as 2026-11-28T01:30:00+00:00"
        ) from exc
    moment = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    if moment > dt.datetime.now(dt.UTC):
        raise RestoreError(f"--to {value!r} is in the future: give a past time, or `latest`")
    return moment


def check_report_path(path: Path | None) -> None:
    """Checked before any work: a report that cannot be written would be lost after the restore."""
    if path is None:
        return
    if path.is_dir():
        raise RestoreError(f"--report-json {path} is a directory: give a file name")
    if not path.parent.is_dir():
        raise RestoreError(f"--report-json {path}: the directory {path.parent} does not exist: create it first")


def check_table_names(tables: list[str]) -> None:
    for name in tables:
        if not _IDENT.fullmatch(name):
            raise RestoreError(f"--verify-table {name!r} is not a table name such as payments or public.payments")


def check_target_dir(path: Path) -> None:
    if path.exists() and not path.is_dir():
        raise RestoreError(f"target {path} exists and is not a directory: pass a new or empty directory")
    if path.is_dir() and any(path.iterdir()):
        raise RestoreError(f"target directory {path} is not empty: restore only into a new or empty directory")
    if not path.parent.is_dir():
        raise RestoreError(f"the parent of the target directory, {path.parent}, does not exist: create it first")


def choose_backup(backups: list[BaseBackup], target: dt.datetime | None) -> str:
    """The newest finished backup, or the newest one that ended before the target time."""
    done = [b for b in backups if b.status == "DONE" and b.end_time is not None]
    if target is not None:
        done = [b for b in done if b.end_time is not None and b.end_time < target]
    if not done:
        when = f" that ended before {target.isoformat()}" if target else ""
        raise RestoreError(f"no finished base backup{when} in the archive; list them with barman-cloud-backup-list")
    return max(done, key=lambda b: (b.end_time, b.backup_id)).backup_id


def list_backups(target: BackupTarget) -> list[BaseBackup]:
    import boto3  # here: the argument checks run without it
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return base_backups(boto3.client("s3", endpoint_url=target.endpoint_url), target)
    except (BotoCoreError, ClientError) as exc:
        raise RestoreError(f"cannot list the base backups in s3://{target.bucket}: {exc}") from exc


def write_recovery_settings(data_dir: Path, target: BackupTarget, moment: dt.datetime | None) -> None:
    lines = [_RECOVERY_BEGIN, f"restore_command = '{restore_command(target)}'"]
    if moment is not None:
        lines += [f"recovery_target_time = '{moment.isoformat()}'", "recovery_target_action = 'promote'"]
    # Written as the postgres user: the files in the restored directory must stay its own.
    script = 'cat >> "$1/postgresql.auto.conf" && touch "$1/recovery.signal"'
    subprocess.run(
        ["sh", "-c", script, "sh", str(data_dir)],
        input="\n".join(lines) + "\n",
        text=True,
        check=True,
        env=postgres_env(),
        **as_postgres(),
    )


def wait_for_promotion(server: LocalServer, timeout: float, progress: Callable[[str], None]) -> None:
    """Recovery has ended when PostgreSQL removes recovery.signal; then it must accept connections."""
    deadline = time.monotonic() + timeout
    last_note = time.monotonic()
    signal_file = server.data_dir / "recovery.signal"
    while signal_file.exists():
        if not server.running():
            raise RestoreError(f"postgres stopped during recovery; its log ends:\n{server.log_tail()}")
        if time.monotonic() > deadline:
            raise RestoreError(f"recovery did not finish within {timeout:.0f}s; its log ends:\n{server.log_tail()}")
        if time.monotonic() - last_note > 15:
            progress("recovering: replaying WAL from the archive ...")
            last_note = time.monotonic()
        time.sleep(0.1)
    # The signal file goes first; the end-of-recovery checkpoint and promotion follow.
    server.wait_accepting(max(deadline - time.monotonic(), 30))
    while server.psql("SELECT pg_is_in_recovery()") != "f":
        if time.monotonic() > deadline:
            raise RestoreError("recovery.signal is gone but the server is still in recovery; see restore.log")
        time.sleep(0.2)


def verify(server: LocalServer, database: str, tables: list[str], report: RestoreReport) -> None:
    listing = server.psql(
        "SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) FROM information_schema.tables"
        " WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')"
        " ORDER BY 1",
        database,
    )
    for table in filter(None, listing.splitlines()):
        report.row_counts[table] = int(server.psql(f"SELECT count(*) FROM {table}", database))
    for table in tables:
        # Row hashes sorted, then hashed: independent of physical order, sensitive to every value.
        report.checksums[table] = server.psql(
            f"SELECT md5(coalesce(string_agg(h, '' ORDER BY h), '')) FROM (SELECT md5(t::text) AS h FROM {table} t) s",
            database,
        )
    report.postgis = server.psql("SELECT postgis_full_version()", database)


def restore(
    target: BackupTarget,
    to: str,
    target_dir: Path,
    pg_bin: Path,
    tables: list[str],
    database: str = CRM_DATABASE,
    timeout: float = 3600,
    progress: Callable[[str], None] = print,
    db_user: str = SUPERUSER,
) -> RestoreReport:
    moment = parse_target(to)
    check_table_names(tables)
    check_target_dir(target_dir)
    started = time.time()
    backup_id = choose_backup(list_backups(target), moment)
    report = RestoreReport(backup_id, to, str(target_dir), started, database=database)
    progress(f"restoring base backup {backup_id} of {target.barman_url} ({target.server}) into {target_dir}")
    created = not target_dir.exists()
    give_to_postgres(target_dir)
    try:
        argv = ["barman-cloud-restore", *target.cloud_options(), target.barman_url, target.server, backup_id]
        run_as_postgres([*argv, str(target_dir)], timeout=timeout)
        write_recovery_settings(target_dir, target, moment)
        progress(f"replaying WAL up to {'the end of the archive' if moment is None else moment.isoformat()}")
        _recover_and_verify(report, target_dir, pg_bin, tables, timeout, progress, db_user)
    except BaseException:
        _discard(target_dir, created, progress)
        raise
    return report


def _discard(target_dir: Path, created: bool, progress: Callable[[str], None]) -> None:
    """A failed restore leaves no half-restored directory behind, only its recovery log."""
    log = target_dir / "restore.log"
    if log.exists():
        kept = target_dir.parent / f"{target_dir.name}.restore-failed.log"
        shutil.copyfile(log, kept)
        progress(f"restore failed: recovery log kept at {kept}")
    if created:
        shutil.rmtree(target_dir, ignore_errors=True)
    else:
        for entry in target_dir.iterdir():
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
    progress(f"restore failed: {target_dir} is {'removed' if created else 'empty'} again, ready for a new attempt")


def _recover_and_verify(
    report: RestoreReport,
    target_dir: Path,
    pg_bin: Path,
    tables: list[str],
    timeout: float,
    progress: Callable[[str], None],
    db_user: str,
) -> None:
    with tempfile.TemporaryDirectory(prefix="quintas-restore-") as tmp:
        hba = Path(tmp) / "pg_hba.conf"
        hba.write_text("local all all trust\n")
        hba.chmod(0o644)
        # The recovery log stays in the data directory for the operator (PostgreSQL ignores the file).
        server = LocalServer(
            target_dir, pg_bin, Path(tmp) / "socket", port=5432, log_file=target_dir / "restore.log", user=db_user
        )
        Path(tmp).chmod(0o755)
        settings = {"archive_mode": "off", "hba_file": str(hba), "recovery_target_timeline": "latest"}
        server.start(settings, tcp=False)
        try:
            wait_for_promotion(server, timeout, progress)
            report.recovered_at = time.time()
            progress(f"recovery ended after {report.recovered_at - report.started_at:.1f}s; verifying")
            verify(server, report.database, tables, report)
            report.verified_at = time.time()
            for name in ("restore_command", "recovery_target_time", "recovery_target_action"):
                server.psql(f"ALTER SYSTEM RESET {name}")
        finally:
            server.stop()


def render(report: RestoreReport) -> str:
    lines = [
        f"restored backup {report.backup_id} to {report.target} into {report.target_dir}",
        f"recovery ended {report.recovered_at - report.started_at:.1f}s and data verified "
        f"{report.verified_at - report.started_at:.1f}s after the start",
        f"verified database {report.database}: {len(report.row_counts)} tables, {sum(report.row_counts.values())} rows",
    ]
    lines += [f"  rows      {table}: {count}" for table, count in report.row_counts.items()]
    lines += [f"  checksum  {table}: {digest}" for table, digest in report.checksums.items()]
    lines.append(f"  postgis   {report.postgis}")
    return "\n".join(lines)
