#!/usr/bin/env python3
"""The daily backup job of the postgres container: base backup, dump, retention, metrics.

`backup_job.py schedule` sleeps until the next BACKUP_TIME in BACKUP_TIME_ZONE and
runs the job, for ever; `backup_job.py run` runs it once now. While it waits, every
BACKLOG_EVERY seconds it writes how far WAL archiving is behind (segments PostgreSQL
finished that the archive_command has not shipped yet) to quintas_wal_archive.prom in
the same textfile directory, for the WalArchiveBacklog alert. One run:
  1. barman-cloud-backup with an immediate checkpoint (a spread checkpoint on an
     idle database makes the backup wait for minutes);
  2. pg_dump -Fc of the CRM database, uploaded to s3://<bucket>/dumps/<stack>/<UTC time>.dump;
  3. barman-cloud-backup-delete with the recovery-window retention policy, only when
     the base backup of this run succeeded, so a failing job never deletes the last
     good backup;
  4. the success timestamp and size of each kind in node-exporter's textfile file,
     replaced atomically; a kind that failed keeps its previous values so that the
     staleness alert fires.
Exit 0 when every step succeeded, 1 otherwise (each failure logged), 2 on bad settings.
Runs as the postgres user on a Python with boto3: the image's barman virtualenv
(/usr/local/bin/backup-job), or Debian's python3 with barman-cli-cloud in the drill.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("backup-job")
UTC = dt.UTC
_HHMM = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")
# Same compression as archive_command (components/backups.py, where the choice is explained).
COMPRESSION = "--gzip"
_WINDOW = re.compile(r"RECOVERY WINDOW OF ([0-9]+) DAYS?")
_METRIC = re.compile(r'^quintas_backup_(\w+)\{kind="(base|dump)"\} (\S+)$')
BACKLOG_EVERY = 30
# Finished segments waiting for archive_command (pg_ls_archive_statusdir: superuser or pg_monitor).
BACKLOG_SQL = (
    "SELECT count(*), count(*) * pg_size_bytes(current_setting('wal_segment_size'))"
    " FROM pg_ls_archive_statusdir() WHERE name ~ '^[0-9A-F]{24}[.]ready$'"
)
BACKLOG_FILE = "quintas_wal_archive.prom"


class SettingsError(Exception):
    pass


def next_run(now: dt.datetime, hhmm: str, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """The next instant (UTC, strictly after `now`) whose wall-clock time in `zone` is hhmm.

    On the day clocks spring forward over hhmm, the job runs the gap's length
    later (02:30 in a 02:00-03:00 gap runs at 03:30); on the day they fall back,
    it runs once, at the first of the two hhmm.
    """
    match = _HHMM.fullmatch(hhmm)
    if not match:
        raise SettingsError(f"backup time {hhmm!r} is not HH:MM (24-hour), e.g. 02:00")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    hour, minute = int(match.group(1)), int(match.group(2))
    day = now.astimezone(zone).date() - dt.timedelta(days=1)
    for _ in range(4):
        local = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone, fold=0)
        candidate = local.astimezone(UTC)
        if candidate > now:
            return candidate
        day += dt.timedelta(days=1)
    raise AssertionError("unreachable: a wall-clock time recurs within two days")


@dataclass(frozen=True)
class Settings:
    stack: str
    bucket: str
    server: str
    database: str
    retention_policy: str
    textfile_dir: Path
    backup_time: str
    zone: zoneinfo.ZoneInfo
    endpoint_url: str | None

    @property
    def barman_url(self) -> str:
        return f"s3://{self.bucket}/postgres/{self.stack}"

    def cloud_options(self) -> list[str]:
        return ["--endpoint-url", self.endpoint_url] if self.endpoint_url else []

    @staticmethod
    def from_environment(env: dict[str, str]) -> Settings:
        missing = [k for k in ("BACKUP_STACK", "BACKUP_BUCKET", "BACKUP_RETENTION_POLICY") if not env.get(k)]
        if missing:
            raise SettingsError(f"missing environment: {', '.join(missing)} (set by the backup-job ServiceSpec)")
        zone_name = env.get("BACKUP_TIME_ZONE", "UTC")
        try:
            zone = zoneinfo.ZoneInfo(zone_name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise SettingsError(f"BACKUP_TIME_ZONE={zone_name!r} is not an IANA time zone") from exc
        backup_time = env.get("BACKUP_TIME", "02:00")
        if not _HHMM.fullmatch(backup_time):
            raise SettingsError(f"BACKUP_TIME={backup_time!r} is not HH:MM (24-hour), e.g. 02:00")
        return Settings(
            stack=env["BACKUP_STACK"],
            bucket=env["BACKUP_BUCKET"],
            server=env.get("BARMAN_SERVER", "quintas-crm"),
            database=env.get("BACKUP_DATABASE", "quintas_crm"),
            retention_policy=env["BACKUP_RETENTION_POLICY"],
            textfile_dir=Path(env.get("BACKUP_TEXTFILE_DIR", "/var/lib/node-exporter/textfile")),
            backup_time=backup_time,
            zone=zone,
            endpoint_url=env.get("BACKUP_ENDPOINT_URL") or None,
        )


def _s3(settings: Settings):
    import boto3  # imported here: the scheduler and its tests need no AWS library

    return boto3.client("s3", endpoint_url=settings.endpoint_url)


def _run(step: str, argv: list[str]) -> bool:
    """Runs one step, streaming its output into the job's log as it comes."""
    log.info("%s: %s", step, " ".join(argv))
    started = time.monotonic()
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    except OSError as exc:
        log.error("%s FAILED: cannot run %s: %s", step, argv[0], exc)
        return False
    assert proc.stdout is not None
    for line in proc.stdout:
        log.info("%s | %s", step, line.rstrip())
    code = proc.wait()
    if code != 0:
        log.error("%s FAILED (exit %d after %.1fs)", step, code, time.monotonic() - started)
        return False
    log.info("%s done in %.1fs", step, time.monotonic() - started)
    return True


def _base_backup_ids(settings: Settings) -> dict[str, int]:
    """Backup id -> total size in bytes of its objects, from the bucket."""
    prefix = f"postgres/{settings.stack}/{settings.server}/base/"
    sizes: dict[str, int] = {}
    for page in _s3(settings).get_paginator("list_objects_v2").paginate(Bucket=settings.bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            backup_id = obj["Key"][len(prefix) :].split("/", 1)[0]
            sizes[backup_id] = sizes.get(backup_id, 0) + obj["Size"]
    return sizes


def base_backup(settings: Settings) -> int | None:
    """Runs barman-cloud-backup; the size in bytes of the new backup, or None on failure."""
    try:
        before = set(_base_backup_ids(settings))
    except Exception as exc:  # noqa: BLE001 no bucket listing, no backup: logged, nothing deleted
        log.error("base backup FAILED: cannot list s3://%s: %s", settings.bucket, exc)
        return None
    argv = ["barman-cloud-backup", "-v", COMPRESSION, "--immediate-checkpoint", *settings.cloud_options()]
    if not _run("base backup", [*argv, settings.barman_url, settings.server]):
        return None
    try:
        new = {k: v for k, v in _base_backup_ids(settings).items() if k not in before}
    except Exception as exc:  # noqa: BLE001
        log.error("base backup FAILED: cannot list s3://%s after the backup: %s", settings.bucket, exc)
        return None
    if not new:
        log.error("base backup FAILED: barman-cloud-backup exited 0 but no new backup is in the bucket")
        return None
    backup_id = max(new)
    log.info("base backup %s: %d bytes", backup_id, new[backup_id])
    return new[backup_id]


def dump(settings: Settings, now: dt.datetime) -> int | None:
    """pg_dump -Fc to a local file, then upload; the dump's size, or None on failure."""
    key = f"dumps/{settings.stack}/{now.astimezone(UTC):%Y%m%dT%H%M%SZ}.dump"
    with tempfile.TemporaryDirectory(prefix="quintas-dump-") as tmp:
        path = Path(tmp) / "crm.dump"
        if not _run("dump", ["pg_dump", "-Fc", "--no-password", "-d", settings.database, "-f", str(path)]):
            return None
        size = path.stat().st_size
        if size == 0:
            log.error("dump FAILED: pg_dump wrote an empty file")
            return None
        try:
            _s3(settings).upload_file(str(path), settings.bucket, key)
        except Exception as exc:  # noqa: BLE001 any upload error fails the step, logged
            log.error("dump FAILED: upload to s3://%s/%s: %s", settings.bucket, key, exc)
            return None
    log.info("dump uploaded to s3://%s/%s: %d bytes", settings.bucket, key, size)
    return size


def prune_dumps(settings: Settings, now: dt.datetime) -> bool:
    """Deletes dumps older than the recovery window; the newest is always kept."""
    match = _WINDOW.fullmatch(settings.retention_policy)
    if not match:
        log.error("dump retention SKIPPED: %r is not RECOVERY WINDOW OF N DAYS", settings.retention_policy)
        return False
    cutoff = f"dumps/{settings.stack}/{now - dt.timedelta(days=int(match.group(1))):%Y%m%dT%H%M%SZ}.dump"
    s3 = _s3(settings)
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=settings.bucket, Prefix=f"dumps/{settings.stack}/"):
        keys += [o["Key"] for o in page.get("Contents", []) if o["Key"].endswith(".dump")]
    # Keys are UTC times in a fixed-width format: text order is time order.
    old = [k for k in sorted(keys)[:-1] if k < cutoff]
    for start in range(0, len(old), 1000):
        s3.delete_objects(Bucket=settings.bucket, Delete={"Objects": [{"Key": k} for k in old[start : start + 1000]]})
    log.info("dump retention: %d dump(s) older than %s deleted, %d kept", len(old), cutoff, len(keys) - len(old))
    return True


def read_metrics(path: Path) -> dict[tuple[str, str], float]:
    values: dict[tuple[str, str], float] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            match = _METRIC.match(line)
            if match:
                values[(match.group(1), match.group(2))] = float(match.group(3))
    return values


def write_metrics(path: Path, now: dt.datetime, sizes: dict[str, int | None]) -> None:
    """Updates the kinds that succeeded, keeps the others' last values; atomic rename."""
    values = read_metrics(path)
    for kind, size in sizes.items():
        if size is not None:
            values[("last_success_timestamp_seconds", kind)] = now.timestamp()
            values[("size_bytes", kind)] = float(size)
    help_text = {
        "last_success_timestamp_seconds": "Unix time of the last successful backup of this kind.",
        "size_bytes": "Size in bytes of the last successful backup of this kind.",
    }
    lines: list[str] = []
    for metric, text in help_text.items():
        lines += [f"# HELP quintas_backup_{metric} {text}", f"# TYPE quintas_backup_{metric} gauge"]
        for kind in ("base", "dump"):
            if (metric, kind) in values:
                lines.append(f'quintas_backup_{metric}{{kind="{kind}"}} {values[(metric, kind)]:.0f}')
    write_atomically(path, "\n".join(lines) + "\n")


def write_atomically(path: Path, text: str) -> None:
    """node-exporter never reads a half-written file: a temporary file, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".quintas.", suffix=".tmp")
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def write_backlog(settings: Settings, now: float) -> bool:
    """The archiving backlog from the server into quintas_wal_archive.prom; on failure the file goes.

    A stale backlog must not look current: without an answer the metric disappears
    and the log says why (the role needs superuser or pg_monitor for pg_ls_archive_statusdir).
    """
    path = settings.textfile_dir / BACKLOG_FILE
    argv = ["psql", "-XAt", "--no-password", "-d", settings.database, "-c", BACKLOG_SQL]
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        segments, size = (int(v) for v in out.stdout.strip().split("|"))
    except (OSError, subprocess.TimeoutExpired, ValueError) as exc:
        log.warning("archiving backlog unknown (%s); %s removed", exc, path)
        path.unlink(missing_ok=True)
        return False
    if out.returncode != 0:
        log.warning("archiving backlog unknown: psql: %s; %s removed", out.stderr.strip()[-300:], path)
        path.unlink(missing_ok=True)
        return False
    metrics = [
        ("backlog_segments", "WAL segments finished but not yet archived.", segments),
        ("backlog_bytes", "Bytes of WAL finished but not yet archived.", size),
        ("backlog_checked_timestamp_seconds", "Unix time the backlog was read.", int(now)),
    ]
    lines: list[str] = []
    for name, text, value in metrics:
        lines += [f"# HELP quintas_wal_archive_{name} {text}", f"# TYPE quintas_wal_archive_{name} gauge"]
        lines.append(f"quintas_wal_archive_{name} {value}")
    write_atomically(path, "\n".join(lines) + "\n")
    return True


def run_once(settings: Settings, clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(UTC)) -> int:
    started = clock()
    log.info("backup of stack %s to %s (server %s) started", settings.stack, settings.barman_url, settings.server)
    base_size = base_backup(settings)
    dump_size = dump(settings, started)
    ok = base_size is not None and dump_size is not None
    if dump_size is not None:
        try:
            ok = prune_dumps(settings, started) and ok
        except Exception as exc:  # noqa: BLE001 a failed prune must not hide the other steps' results
            log.error("dump retention FAILED: %s", exc)
            ok = False
    if base_size is None:
        log.error("retention SKIPPED: the base backup failed, every existing backup is kept")
    elif not _run(
        "retention",
        [
            "barman-cloud-backup-delete",
            *settings.cloud_options(),
            "--retention-policy",
            settings.retention_policy,
            settings.barman_url,
            settings.server,
        ],
    ):
        ok = False
    write_metrics(settings.textfile_dir / "quintas_backup.prom", clock(), {"base": base_size, "dump": dump_size})
    log.info("backup %s", "succeeded" if ok else "FAILED: see the errors above")
    return 0 if ok else 1


def schedule(settings: Settings) -> int:
    while True:
        now = dt.datetime.now(UTC)
        at = next_run(now, settings.backup_time, settings.zone)
        log.info("next backup at %s (%s %s)", at.isoformat(), settings.backup_time, settings.zone.key)
        while (left := (at - dt.datetime.now(UTC)).total_seconds()) > 0:
            write_backlog(settings, time.time())
            time.sleep(min(BACKLOG_EVERY, left))
        try:
            run_once(settings)
        except Exception:  # a bug in one run must not stop tomorrow's: log it and keep the schedule
            log.exception("backup run crashed")


def take_credentials_and_drop_root(textfile_dir: Path) -> None:
    """Reads the password file into PGPASSWORD for libpq, then gives up root for the postgres user.

    The container starts as root only so that the textfile directory, a host
    directory node-exporter reads, belongs to the user that writes the metrics.
    """
    password_file = os.environ.pop("PGPASSWORD_FILE", "")
    if password_file:
        os.environ["PGPASSWORD"] = Path(password_file).read_text().strip()
    if os.geteuid() != 0:
        return
    import pwd

    account = pwd.getpwnam("postgres")
    textfile_dir.mkdir(parents=True, exist_ok=True)
    os.chown(textfile_dir, account.pw_uid, account.pw_gid)
    os.setgroups([])
    os.setgid(account.pw_gid)
    os.setuid(account.pw_uid)
    os.environ["HOME"] = account.pw_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("mode", choices=("run", "schedule"), help="run once now, or for ever at BACKUP_TIME")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s backup-job %(levelname)s %(message)s", stream=sys.stderr
    )
    try:
        settings = Settings.from_environment(dict(os.environ))
    except SettingsError as exc:
        log.error("bad settings: %s", exc)
        return 2
    try:
        take_credentials_and_drop_root(settings.textfile_dir)
    except (OSError, KeyError) as exc:
        log.error("cannot prepare the job (password file, postgres user, %s): %s", settings.textfile_dir, exc)
        return 2
    return run_once(settings) if args.mode == "run" else schedule(settings)


if __name__ == "__main__":
    sys.exit(main())
