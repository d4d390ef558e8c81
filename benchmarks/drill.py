"""The backup drill: a day of CRM work after the base backup, a lost primary, its restore from S3.

Everything PostgreSQL runs inside the project's postgres image at the tag the prod
stack records (benchmarks/drill_server.py), so the PostgreSQL, PostGIS and barman
versions are the production image's. An S3 API server (moto) runs on 127.0.0.1.
The timeline is production's:
  1. load the CRM base (lots with PostGIS boundaries and a GiST index, clients, sales,
     payments), then the real backup job (`backup-job run`: base backup and dump);
  2. the day's work: CRM batches (inserts and updates) until `wal_mb` of WAL follow the
     base backup, archived by the stacks' archive_command while a heartbeat commits a
     row a second and the archiver's lag is sampled every second (worst RPO);
  3. a quiet spell of archive_timeout plus a margin, then SIGKILL of the container;
  4. `ops.cli.backup restore --to latest` inside the image (the runbook's command),
     timed: the database RTO; then a point-in-time restore to a moment in the day.
Each restore is compared with the primary: row count and checksum of every CRM table,
the spatial query over the GiST index, the heartbeats. Used by
tests/integration/test_backup_drill.py (small) and benchmarks/backup_drill.py (>= 1 GB).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks import drill_data, drill_load, drill_server
from benchmarks.drill_result import DrillResult
from components.backups import (
    BUCKET_ENV,
    BUCKET_FROM_ENV,
    CRM_DATABASE,
    BackupTarget,
    backup_job_environment,
    postgres_settings,
)
from ops.backup.postgres_local import free_port

ROOT = Path(__file__).resolve().parent.parent
DATABASE = CRM_DATABASE
BUCKET = "quintas-crm-drill-backups"
STACK = "drill"
# After the last CRM write: archive_timeout closes the segment, this margin ships it.
QUIET_MARGIN_SECONDS = 15.0
S3_ENV = {"AWS_ACCESS_KEY_ID": "drill", "AWS_SECRET_ACCESS_KEY": "drill", "AWS_DEFAULT_REGION": "us-east-1"}
_REDO = re.compile(r"redo (starts|done) at ([0-9A-F]+/[0-9A-F]+)")


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


@dataclass
class Drill:
    """The fixed parts of one run: image, scratch directory, S3 endpoint, postgres uid in the image."""

    image: str
    workdir: Path
    endpoint: str
    owner: tuple[int, int]
    progress: Callable[[str], None] = print
    servers: list[drill_server.ContainerServer] = field(default_factory=list)

    @property
    def target(self) -> BackupTarget:
        return BackupTarget(bucket=BUCKET, stack=STACK, endpoint_url=self.endpoint)

    def server(self, name: str) -> drill_server.ContainerServer:
        server = drill_server.ContainerServer(self.image, self.workdir, self.workdir / name, free_port())
        self.servers.append(server)
        return server

    def remove_servers(self) -> None:
        for server in self.servers:
            server.remove()


def run_drill(
    workdir: Path,
    size_mb: float,
    wal_mb: float,
    archive_timeout: int,
    progress: Callable[[str], None] = print,
) -> DrillResult:
    image = drill_server.pinned_image()
    drill_server.require_image(image)
    result = DrillResult(versions=drill_server.versions(image), archive_timeout_s=archive_timeout)
    with s3_server() as endpoint, contextlib.ExitStack() as cleanup:
        import boto3

        drill = Drill(image, workdir, endpoint, drill_server.image_postgres_uid(image), progress)
        cleanup.callback(drill.remove_servers)
        boto3.client("s3", endpoint_url=endpoint, **_boto_keys()).create_bucket(Bucket=BUCKET)
        primary, base_lots = _primary_with_base(drill, result, size_mb, archive_timeout)
        _take_backup(drill, result, primary)
        heartbeat = _day_of_work(drill, result, primary, base_lots, wal_mb, archive_timeout)
        _restore_latest(drill, result, heartbeat)
        _restore_pitr(drill, result, heartbeat)
    return result


def _primary_with_base(drill: Drill, result: DrillResult, size_mb: float, archive_timeout: int):
    started = time.monotonic()
    primary = drill.server("primary")
    drill_server.chown_tree(primary.data_dir, *drill.owner)
    primary.initdb()
    # The stacks' archive_command shape: the bucket comes from the server's BACKUPS_BUCKET.
    archive_to = BackupTarget(bucket=BUCKET_FROM_ENV, stack=STACK, endpoint_url=drill.endpoint)
    settings = postgres_settings(archive_timeout_seconds=archive_timeout, target=archive_to)
    primary.start({**settings, "shared_buffers": "256MB"}, env={**S3_ENV, BUCKET_ENV: BUCKET})
    primary.wait_accepting(60)
    # FILE_COPY: the template is copied on disk, not through WAL the backup job would wait on.
    primary.psql(f"CREATE DATABASE {DATABASE} STRATEGY = FILE_COPY")
    drill.progress(f"loading about {size_mb:.0f} MB of CRM data into {drill.image}")
    base_lots = drill_data.load(primary, DATABASE, size_mb, drill.progress)
    result.database_bytes = int(primary.psql(f"SELECT pg_database_size('{DATABASE}')", DATABASE))
    result.phases["load_base"] = time.monotonic() - started
    plan = drill_data.spatial_plan(primary, DATABASE)
    result.checks["spatial query uses lots_boundary_gist"] = "lots_boundary_gist" in plan
    return primary, base_lots


def _take_backup(drill: Drill, result: DrillResult, primary: drill_server.ContainerServer) -> None:
    """The real backup job inside the primary's container; its time, log, metrics and sizes."""
    textfile = drill.workdir / "job-textfile"
    drill_server.chown_tree(textfile, *drill.owner)
    env = backup_job_environment(
        target=drill.target,
        backup_time="02:00",
        time_zone="UTC",
        recovery_window_days=7,
        pg_host=drill_server.SOCKET_DIR,
        # The drill's cluster was initialised with this superuser, not the stack's owner role.
        pg_user="postgres",
        textfile_dir=str(textfile),
    )
    drill.progress(f"database is {result.database_bytes / 2**20:.0f} MB; running the backup job")
    started = time.monotonic()
    job = primary.exec_result(["backup-job", "run"], env={**env, "PGPORT": str(primary.port), **S3_ENV})
    result.phases["base_backup"] = time.monotonic() - started
    result.job_log = job.stderr
    if job.returncode != 0:
        raise RuntimeError(f"backup job exited {job.returncode}:\n{job.stderr[-3000:]}")
    result.metrics = (textfile / "quintas_backup.prom").read_text()
    result.base_bytes, result.dump_bytes = _metric_sizes(result.metrics)
    drill.progress(f"backup job done in {result.phases['base_backup']:.1f}s")


def _day_of_work(
    drill: Drill,
    result: DrillResult,
    primary: drill_server.ContainerServer,
    base_lots: int,
    wal_mb: float,
    archive_timeout: int,
) -> drill_load.Heartbeat:
    """The workload under heartbeats and the archive watch, a quiet spell, then SIGKILL."""
    since = drill_load.parse_lsn(_backup_begin_lsn(drill))
    heartbeat = drill_load.Heartbeat(primary.port, DATABASE)
    watch = drill_load.ArchiveWatch(primary.port, DATABASE, heartbeat)
    heartbeat.start()
    watch.start()
    drill.progress(f"day of work: CRM batches until {wal_mb:.0f} MB of WAL follow the base backup")
    work = drill_load.run_workload(primary, DATABASE, base_lots, int(wal_mb * 2**20), since, drill.progress)
    result.workload = work
    result.phases["workload"] = work.ended - work.started
    if not work.pitr_snapshot:
        raise RuntimeError("the workload was one batch long: no moment for the point-in-time restore; raise wal_mb")
    result.reference = drill_data.snapshot(primary, DATABASE)
    verify = _ops_backup_host("verify", "--archive-timeout", str(archive_timeout), endpoint=drill.endpoint)
    result.verify_exit_code, result.verify_output = verify.returncode, verify.stdout
    time.sleep(max(0.0, work.ended + archive_timeout + QUIET_MARGIN_SECONDS - time.time()))
    result.phases["quiet_before_kill"] = time.time() - work.ended
    result.kill_time = time.time()
    primary.kill()
    heartbeat.stopping.set()
    watch.stopping.set()
    heartbeat.join(10)
    watch.join(10)
    result.rpo_load_s, result.backlog_max_bytes = watch.worst(work.started, result.kill_time)
    window = [s for s in watch.samples if work.started <= s.at <= work.ended]
    if len(window) >= 2:
        seconds = window[-1].at - window[0].at
        result.archive_mb_s = (window[-1].archived_end - window[0].archived_end) / 2**20 / seconds
    result.wal_generation_mb_s = work.wal_bytes / 2**20 / max(work.ended - work.started, 1e-9)
    drill.progress(f"primary SIGKILLed; worst RPO under load {result.rpo_load_s:.1f}s")
    return heartbeat


def _restore(drill: Drill, name: str, to: str) -> tuple[dict, drill_server.ContainerServer, float]:
    """The runbook's restore inside the image; the report, the restored server (started), the start time."""
    target_dir = drill.workdir / name
    report_file = drill.workdir / f"{name}.json"
    args = ["restore", "--stack", STACK, "--bucket", BUCKET, "--endpoint-url", drill.endpoint, "--to", to]
    args += ["--target-dir", str(target_dir), "--report-json", str(report_file)]
    for table in drill_data.CRM_TABLES:
        args += ["--verify-table", table]
    started = time.time()
    out = drill_server.in_image_ops(drill.image, drill.workdir, args, S3_ENV)
    if out.returncode != 0:
        raise RuntimeError(f"restore --to {to} exited {out.returncode}:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    report = json.loads(report_file.read_text()) | {"output": out.stdout}
    server = drill.server(name)
    server.start({"archive_mode": "off"})
    server.wait_accepting(120)
    return report, server, started


def _compare(report: dict, server: drill_server.ContainerServer, reference: dict[str, str]) -> dict[str, bool]:
    """Each CRM table's row count and checksum from the restore's own report, the spatial answer here."""
    checks: dict[str, bool] = {}
    counts = {k: str(v) for k, v in report["row_counts"].items()}
    for table in drill_data.CRM_TABLES:
        checks[f"rows {table}"] = counts.get(table) == reference[f"rows {table}"]
        checks[f"checksum {table}"] = report["checksums"].get(table) == reference[f"checksum {table}"]
    spatial = next(k for k in reference if k.startswith("spatial"))
    answer = server.psql(f"SET enable_seqscan = off; {drill_data.SPATIAL}", DATABASE).splitlines()[-1]
    checks[spatial] = answer == reference[spatial]
    return checks


def _beats(server: drill_server.ContainerServer) -> set[int]:
    rows = server.psql("SELECT beat FROM heartbeat", DATABASE)
    return {int(line) for line in rows.splitlines() if line}


def _restore_latest(drill: Drill, result: DrillResult, heartbeat: drill_load.Heartbeat) -> None:
    drill.progress("restoring --to latest inside the image (the runbook's command)")
    report, server, started = _restore(drill, "latest", "latest")
    result.restore_output = report["output"]
    result.rto_db_s = report["verified_at"] - started
    result.phases["restore_and_replay"] = report["recovered_at"] - started
    result.phases["verify"] = report["verified_at"] - report["recovered_at"]
    result.wal_bytes_replayed = _replayed(drill.workdir / "latest" / "restore.log")
    for name, ok in _compare(report, server, result.reference).items():
        result.checks[f"latest: {name}"] = ok
    restored = _beats(server)
    committed = [b for b in heartbeat.beats if b.acked <= result.kill_time]
    last = max((b.acked for b in committed if b.beat in restored), default=0.0)
    result.rpo_kill_s = result.kill_time - last
    result.beats_committed, result.beats_restored = len(committed), len(restored)
    cutoff = result.kill_time - result.archive_timeout_s - QUIET_MARGIN_SECONDS
    result.checks["latest: every heartbeat older than archive_timeout + margin"] = all(
        b.beat in restored for b in committed if b.acked < cutoff
    )
    server.remove()


def _restore_pitr(drill: Drill, result: DrillResult, heartbeat: drill_load.Heartbeat) -> None:
    moment = result.workload.pitr_moment
    result.pitr_target = dt.datetime.fromtimestamp(moment, dt.UTC).isoformat()
    drill.progress(f"restoring --to {result.pitr_target} inside the image")
    started = time.monotonic()
    report, server, _ = _restore(drill, "pitr", result.pitr_target)
    result.phases["pitr_restore"] = time.monotonic() - started
    for name, ok in _compare(report, server, result.workload.pitr_snapshot).items():
        result.checks[f"pitr: {name}"] = ok
    restored = _beats(server)
    result.checks["pitr: heartbeats exactly those committed by then"] = all(
        (b.beat in restored) == (b.acked < moment) for b in heartbeat.beats if b.acked < moment or b.sent > moment
    )
    server.remove()


def _backup_begin_lsn(drill: Drill) -> str:
    import boto3

    s3 = boto3.client("s3", endpoint_url=drill.endpoint, **_boto_keys())
    prefix = drill.target.barman_prefix + "base/"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])]
    info = max(k for k in keys if k.endswith("/backup.info"))
    body = s3.get_object(Bucket=BUCKET, Key=info)["Body"].read().decode()
    fields = dict(line.split("=", 1) for line in body.splitlines() if "=" in line)
    return fields["begin_xlog"]


def _replayed(log: Path) -> int:
    found = dict(_REDO.findall(log.read_text(errors="replace")))
    if "starts" not in found or "done" not in found:
        return 0
    return drill_load.parse_lsn(found["done"]) - drill_load.parse_lsn(found["starts"])


def _ops_backup_host(*args: str, endpoint: str) -> subprocess.CompletedProcess[str]:
    import os

    argv = [sys.executable, "-m", "ops", "backup", *args, "--stack", STACK, "--bucket", BUCKET]
    env = {**os.environ, **S3_ENV}
    return subprocess.run([*argv, "--endpoint-url", endpoint], cwd=ROOT, env=env, capture_output=True, text=True)


def _metric_sizes(metrics: str) -> tuple[int, int]:
    sizes = {}
    for line in metrics.splitlines():
        if line.startswith("quintas_backup_size_bytes{"):
            sizes[line.split('"')[1]] = int(float(line.rsplit(" ", 1)[1]))
    return sizes.get("base", 0), sizes.get("dump", 0)


def _boto_keys() -> dict[str, str]:
    return {"aws_access_key_id": S3_ENV["AWS_ACCESS_KEY_ID"], "aws_secret_access_key": S3_ENV["AWS_SECRET_ACCESS_KEY"]}


@contextlib.contextmanager
def scratch_dir() -> Iterator[Path]:
    """A temporary directory the image's postgres user can enter (mkdtemp makes it root-only)."""
    import shutil
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="quintas-drill-"))
    try:
        path.chmod(0o755)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
