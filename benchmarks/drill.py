"""The backup drill: lose a primary, restore it from S3, and measure RPO and RTO.

A scratch PostgreSQL (run as the postgres user) archives WAL with the real
archive_command from components/backups.py to an S3 API server (moto) on
127.0.0.1; the real backup job (services/postgres/backup_job.py) takes the base
backup and the dump. A heartbeat row is committed every second, the primary is
SIGKILLed, and `python -m ops backup restore` brings it back twice: to the end of
the archive (RPO, RTO, no row older than kill - archive_timeout lost) and to a
chosen past moment (exactly the rows committed by then). Used by
tests/integration/test_backup_drill.py (small) and benchmarks/backup_drill.py (>= 1 GB).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks import drill_data
from components.backups import (
    BUCKET_ENV,
    BUCKET_FROM_ENV,
    CRM_DATABASE,
    BackupTarget,
    backup_job_environment,
    postgres_settings,
)
from ops.backup.postgres_local import (
    POSTGRES_USER,
    LocalServer,
    find_pg_bin,
    free_port,
    give_to_postgres,
    run_as_postgres,
)

ROOT = Path(__file__).resolve().parent.parent
JOB_SCRIPT = ROOT / "services" / "postgres" / "backup_job.py"
DATABASE = CRM_DATABASE
BUCKET = "quintas-crm-drill-backups"
STACK = "drill"
# A closed WAL segment still needs barman-cloud-wal-archive to ship it (about a second,
# more on a busy 2-core host): rows committed before kill - archive_timeout - this
# allowance must survive. Rows older than kill - archive_timeout alone are also counted.
SHIP_ALLOWANCE_SECONDS = 3.0
S3_ENV = {"AWS_ACCESS_KEY_ID": "drill", "AWS_SECRET_ACCESS_KEY": "drill", "AWS_DEFAULT_REGION": "us-east-1"}


@dataclass
class Beat:
    beat: int
    sent: float
    acked: float


@dataclass
class DrillResult:
    database_bytes: int = 0
    base_backup_bytes: int = 0
    dump_bytes: int = 0
    backup_job_seconds: float = 0.0
    kill_time: float = 0.0
    last_surviving_beat_time: float = 0.0
    rpo_seconds: float = 0.0
    rto_seconds: float = 0.0
    restore_mb_per_s: float = 0.0
    beats_committed: int = 0
    beats_restored: int = 0
    lost_before_cutoff: list[int] = field(default_factory=list)
    lost_before_strict_cutoff: list[int] = field(default_factory=list)
    tables_match: bool = False
    pitr_target: str = ""
    pitr_expected: list[int] = field(default_factory=list)
    pitr_restored: list[int] = field(default_factory=list)
    verify_exit_code: int = -1
    metrics: str = ""
    job_log: str = ""
    restore_output: str = ""

    @property
    def compression_ratio(self) -> float:
        return self.database_bytes / self.base_backup_bytes if self.base_backup_bytes else 0.0


@contextlib.contextmanager
def s3_server() -> Iterator[str]:
    """moto's S3 API server in its own process on 127.0.0.1; yields its endpoint URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(url, timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Heartbeat(threading.Thread):
    """Commits one row a second and records when each commit was acknowledged."""

    def __init__(self, server: LocalServer) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.beats: list[Beat] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        import psycopg2

        conn = psycopg2.connect(host="127.0.0.1", port=self.server.port, user=POSTGRES_USER, dbname=DATABASE)
        conn.autocommit = True
        n = 0
        try:
            while not self.stopping.is_set():
                n += 1
                sent = time.time()
                with conn.cursor() as cur:
                    cur.execute("INSERT INTO heartbeat (beat) VALUES (%s)", (n,))
                self.beats.append(Beat(n, sent, time.time()))
                self.stopping.wait(max(0.0, 1.0 - (time.time() - sent)))
        except psycopg2.Error:
            pass  # the primary was killed: the beats recorded so far are the committed ones
        finally:
            with contextlib.suppress(psycopg2.Error):
                conn.close()


def run_backup_job(workdir: Path, target: BackupTarget, server: LocalServer) -> subprocess.CompletedProcess[str]:
    """The real job script, run as the postgres user with Debian's python3 (as in the image)."""
    give_to_postgres(workdir, 0o755)
    script = workdir / "backup-job"
    shutil.copy(JOB_SCRIPT, script)
    script.chmod(0o755)
    env = backup_job_environment(
        target=target,
        backup_time="02:00",
        time_zone="UTC",
        recovery_window_days=7,
        # The drill's own server was initialised with this superuser, not the stack's owner role.
        pg_user=POSTGRES_USER,
        textfile_dir=str(workdir / "textfile"),
    )
    env |= {"PGHOST": str(server.socket_dir), "PGPORT": str(server.port), **S3_ENV}
    env["PATH"] = f"{server.pg_bin}:/usr/bin:/bin"
    give_to_postgres(workdir / "textfile", 0o755)
    return run_as_postgres(["/usr/bin/python3", str(script), "run"], env=env, timeout=3600, check=False)


def ops_backup(*args: str, endpoint: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "ops", "backup", *args, "--stack", STACK, "--bucket", BUCKET]
    env = {**os.environ, **S3_ENV}
    return subprocess.run([*argv, "--endpoint-url", endpoint], cwd=ROOT, env=env, capture_output=True, text=True)


def restore_and_read(workdir: Path, name: str, to: str, endpoint: str, pg_bin: Path) -> tuple[dict, dict[int, float]]:
    """Restores with the real CLI, then reads the heartbeat rows of the restored data."""
    target_dir = workdir / name
    report_file = workdir / f"{name}.json"
    args = ["restore", "--to", to, "--target-dir", str(target_dir), "--report-json", str(report_file)]
    args += ["--db-user", POSTGRES_USER]  # the drill's cluster was made with this role, not the stack's owner
    for table in drill_data.KEY_TABLES:
        args += ["--verify-table", table]
    started = time.time()
    result = ops_backup(*args, endpoint=endpoint)
    if result.returncode != 0:
        raise RuntimeError(f"restore --to {to} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    report = json.loads(report_file.read_text()) | {"cli_started_at": started, "output": result.stdout}
    server = LocalServer(target_dir, pg_bin, workdir / f"{name}-socket")
    server.start({"archive_mode": "off"}, tcp=False)
    try:
        server.wait_accepting(60)
        rows = server.psql("SELECT beat, extract(epoch FROM at) FROM heartbeat ORDER BY beat", DATABASE)
    finally:
        server.stop()
    beats = {int(i): float(t) for i, t in (line.split("|") for line in rows.splitlines() if line)}
    return report, beats


def _reference(server: LocalServer) -> dict[str, str]:
    sql = "SELECT md5(coalesce(string_agg(h, '' ORDER BY h), '')) FROM (SELECT md5(t::text) AS h FROM {} t) s"
    return {t: server.psql(sql.format(t), DATABASE) for t in drill_data.KEY_TABLES}


def _pitr_moment(beats: list[Beat]) -> tuple[float, list[int]]:
    """A moment between two heartbeats a third of the way in, and the beats committed by then."""
    i = max(len(beats) // 3, 1)
    moment = beats[i - 1].acked + (beats[i].sent - beats[i - 1].acked) / 2
    return moment, [b.beat for b in beats[:i]]


def run_drill(
    workdir: Path,
    size_mb: float,
    archive_timeout: int,
    beat_seconds: float,
    parallel_restores: bool = False,
    progress: Callable[[str], None] = print,
) -> DrillResult:
    result = DrillResult()
    pg_bin = find_pg_bin("/usr/lib/postgresql/15/bin")
    give_to_postgres(workdir, 0o755)
    primary = LocalServer(workdir / "primary", pg_bin, workdir / "primary-socket")
    side = ThreadPoolExecutor(max_workers=1)  # initdb while moto starts, verify while heartbeats run
    initdb = side.submit(primary.initdb)
    with s3_server() as endpoint, contextlib.ExitStack() as cleanup:
        import boto3

        cleanup.callback(side.shutdown)
        boto3.client("s3", endpoint_url=endpoint, **_boto_keys()).create_bucket(Bucket=BUCKET)
        target = BackupTarget(bucket=BUCKET, stack=STACK, endpoint_url=endpoint)
        initdb.result()
        # The stacks' archive_command shape: the bucket comes from the server's BACKUPS_BUCKET.
        archive_to = BackupTarget(bucket=BUCKET_FROM_ENV, stack=STACK, endpoint_url=endpoint)
        settings = postgres_settings(archive_timeout_seconds=archive_timeout, target=archive_to)
        primary.start(settings, env={**S3_ENV, BUCKET_ENV: BUCKET})
        cleanup.callback(primary.kill)
        primary.wait_accepting(60)
        # FILE_COPY: the template is copied on disk, not through WAL the backup job would wait on.
        primary.psql(f"CREATE DATABASE {DATABASE} STRATEGY = FILE_COPY")
        progress(f"loading about {size_mb:.0f} MB of CRM data")
        result.database_bytes = drill_data.load(primary, DATABASE, size_mb, progress)
        reference = _reference(primary)
        progress(f"database is {result.database_bytes / 2**20:.0f} MB; running the backup job")
        _take_backup(result, workdir, target, primary)
        progress(f"backup job done in {result.backup_job_seconds:.1f}s; heartbeats for {beat_seconds:.0f}s")
        beats = _lose_primary(result, primary, side, endpoint, archive_timeout, beat_seconds)
        moment, result.pitr_expected = _pitr_moment(beats)
        result.pitr_target = dt.datetime.fromtimestamp(moment, dt.UTC).isoformat()
        progress(
            f"primary SIGKILLed after {len(beats)} heartbeats; restoring --to latest and --to {result.pitr_target}"
        )
        with ThreadPoolExecutor(max_workers=2 if parallel_restores else 1) as pool:
            latest = pool.submit(restore_and_read, workdir, "latest", "latest", endpoint, pg_bin)
            pitr = pool.submit(restore_and_read, workdir, "pitr", result.pitr_target, endpoint, pg_bin)
            _measure_latest(result, *latest.result(), beats, archive_timeout, reference)
            result.pitr_restored = sorted(pitr.result()[1])
    return result


def _take_backup(result: DrillResult, workdir: Path, target: BackupTarget, primary: LocalServer) -> None:
    """Runs the real backup job; records its time, log, metrics and the sizes it reports."""
    started = time.monotonic()
    job = run_backup_job(workdir / "job", target, primary)
    result.backup_job_seconds = time.monotonic() - started
    result.job_log = job.stderr
    if job.returncode != 0:
        raise RuntimeError(f"backup job exited {job.returncode}:\n{job.stderr}")
    result.metrics = (workdir / "job" / "textfile" / "quintas_backup.prom").read_text()
    result.base_backup_bytes, result.dump_bytes = _metric_sizes(result.metrics)


def _lose_primary(
    result: DrillResult,
    primary: LocalServer,
    side: ThreadPoolExecutor,
    endpoint: str,
    archive_timeout: int,
    beat_seconds: float,
) -> list[Beat]:
    """Heartbeats for `beat_seconds` (verify runs meanwhile), then SIGKILL: the beats committed before it."""
    heartbeat = Heartbeat(primary)
    heartbeat.start()
    verify = side.submit(ops_backup, "verify", "--archive-timeout", str(archive_timeout), endpoint=endpoint)
    time.sleep(beat_seconds)
    result.verify_exit_code = verify.result().returncode
    result.kill_time = time.time()
    primary.kill()
    heartbeat.stopping.set()
    heartbeat.join(10)
    beats = [b for b in heartbeat.beats if b.acked <= result.kill_time]
    result.beats_committed = len(beats)
    return beats


def _measure_latest(
    result: DrillResult,
    report: dict,
    restored: dict[int, float],
    beats: list[Beat],
    archive_timeout: int,
    reference: dict[str, str],
) -> None:
    result.restore_output = report["output"]
    result.rto_seconds = report["verified_at"] - report["cli_started_at"]
    result.restore_mb_per_s = result.database_bytes / 2**20 / result.rto_seconds
    result.beats_restored = len(restored)
    result.last_surviving_beat_time = max(restored.values(), default=0.0)
    result.rpo_seconds = result.kill_time - result.last_surviving_beat_time
    strict = result.kill_time - archive_timeout
    result.lost_before_strict_cutoff = [b.beat for b in beats if b.acked < strict and b.beat not in restored]
    cutoff = strict - SHIP_ALLOWANCE_SECONDS
    result.lost_before_cutoff = [b.beat for b in beats if b.acked < cutoff and b.beat not in restored]
    result.tables_match = report["checksums"] == reference


def _metric_sizes(metrics: str) -> tuple[int, int]:
    sizes = {}
    for line in metrics.splitlines():
        if line.startswith("quintas_backup_size_bytes{"):
            kind = line.split('"')[1]
            sizes[kind] = int(float(line.rsplit(" ", 1)[1]))
    return sizes.get("base", 0), sizes.get("dump", 0)


def _boto_keys() -> dict[str, str]:
    return {"aws_access_key_id": S3_ENV["AWS_ACCESS_KEY_ID"], "aws_secret_access_key": S3_ENV["AWS_SECRET_ACCESS_KEY"]}


@contextlib.contextmanager
def scratch_dir() -> Iterator[Path]:
    """A temporary directory the postgres user can enter (mkdtemp makes it root-only)."""
    path = Path(tempfile.mkdtemp(prefix="quintas-drill-"))
    try:
        path.chmod(0o755)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
