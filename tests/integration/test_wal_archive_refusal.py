"""wal-archive-ahead refuses to archive a new database into another database's WAL archive.

The wrapper (services/postgres/wal_archive_ahead.py) reads the database system
identifier from the header of the segment it is asked to ship and from the newest
segment under the destination prefix in S3 (moto on 127.0.0.1), laid out as
barman-cloud-wal-archive lays it out (<server>/wals/<timeline+log>/<segment>.gz).
"""

from __future__ import annotations

import gzip
import json
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.drill import S3_ENV, s3_server
from components.backups import BackupTarget
from ops.backup import verify

SCRIPT = Path(__file__).resolve().parents[2] / "services" / "postgres" / "wal_archive_ahead.py"
BUCKET = "quintas-crm-refusal-backups"
LOST, NEW = 7312345678901234567, 7399999999999999999
SEGMENT = "000000010000000000000003"


def segment(system_id: int) -> bytes:
    """A WAL segment's first page: XLogLongPageHeaderData with xlp_sysid at offset 24."""
    return struct.pack("<HHIQI4xQII", 0xD110, 2, 1, 0x3000000, 0, system_id, 16 * 2**20, 8192) + bytes(8152)


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    import boto3

    with s3_server() as url:
        s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1", **_keys())
        s3.create_bucket(Bucket=BUCKET)
        # The lost database's archive: two segments, the newest names the system.
        for name in ("000000010000000000000001", "000000010000000000000002"):
            key = f"postgres/prod/quintas-crm/wals/0000000100000000/{name}.gz"
            s3.put_object(Bucket=BUCKET, Key=key, Body=gzip.compress(segment(LOST)))
        yield url


def _keys() -> dict[str, str]:
    return {"aws_access_key_id": S3_ENV["AWS_ACCESS_KEY_ID"], "aws_secret_access_key": S3_ENV["AWS_SECRET_ACCESS_KEY"]}


def archive(
    tmp_path: Path, endpoint: str, system_id: int, prefix: str = "postgres/prod", parallel: int = 4
) -> subprocess.CompletedProcess:
    wal = tmp_path / "pgdata" / "pg_wal"
    (wal / "archive_status").mkdir(parents=True, exist_ok=True)
    (wal / SEGMENT).write_bytes(segment(system_id))
    shipped = tmp_path / "shipped"
    # Stands in for barman-cloud-wal-archive: records that it was run for the segment.
    command = [sys.executable, "-c", f"open({str(shipped)!r}, 'a').write('shipped\\n')", "--gzip"]
    command += ["--endpoint-url", endpoint, f"s3://{BUCKET}/{prefix}", "quintas-crm", f"pg_wal/{SEGMENT}"]
    env = {**S3_ENV, "WAL_ARCHIVE_AHEAD_DIR": str(tmp_path / "markers"), "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(parallel), *command], cwd=wal.parent, env=env, capture_output=True, text=True
    )


def shipped(tmp_path: Path) -> int:
    path = tmp_path / "shipped"
    return len(path.read_text().splitlines()) if path.exists() else 0


@pytest.mark.slow
def test_a_new_database_is_refused_and_nothing_is_shipped(tmp_path: Path, endpoint: str) -> None:
    result = archive(tmp_path, endpoint, NEW)
    assert result.returncode == 3
    assert f"holds WAL of database system {LOST}" in result.stderr
    assert f"this server is database system {NEW}" in result.stderr
    assert "disaster-recovery.md" in result.stderr
    assert shipped(tmp_path) == 0
    # and it stays refused on the next call (nothing remembered as checked)
    assert archive(tmp_path, endpoint, NEW).returncode == 3


@pytest.mark.slow
def test_the_restored_database_goes_on_archiving_into_its_own_prefix(tmp_path: Path, endpoint: str) -> None:
    result = archive(tmp_path, endpoint, LOST)
    assert result.returncode == 0, result.stderr
    assert shipped(tmp_path) == 1


@pytest.mark.slow
def test_an_empty_prefix_takes_any_database(tmp_path: Path, endpoint: str) -> None:
    result = archive(tmp_path, endpoint, NEW, prefix="postgres/staging")
    assert result.returncode == 0, result.stderr
    assert shipped(tmp_path) == 1


@pytest.mark.slow
def test_an_archive_that_cannot_be_read_fails_the_call_naming_it(tmp_path: Path) -> None:
    result = archive(tmp_path, "http://127.0.0.1:9", NEW)
    assert result.returncode == 1
    assert f"cannot read s3://{BUCKET}/postgres/prod/quintas-crm/wals/" in result.stderr
    assert shipped(tmp_path) == 0


@pytest.mark.slow
def test_each_call_records_the_backlog_where_verify_reads_it(tmp_path: Path, endpoint: str) -> None:
    import boto3

    status_dir = tmp_path / "pgdata" / "pg_wal" / "archive_status"
    status_dir.mkdir(parents=True)
    # PostgreSQL finished three more segments; with one at a time, they stay behind.
    for name in ("000000010000000000000004", "000000010000000000000005", "000000010000000000000006"):
        (status_dir / f"{name}.ready").touch()
    (status_dir / "000000010000000000000003.00000028.backup.ready").touch()  # not a segment
    assert archive(tmp_path, endpoint, LOST, parallel=1).returncode == 0
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **_keys())
    key = BackupTarget(bucket=BUCKET, stack="prod").archive_status_key
    status = json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    assert (status["asked"], status["exit"], status["ready_segments"]) == (SEGMENT, 0, 3)
    assert status["oldest_ready"] == "000000010000000000000004"
    [check] = [c for c in verify.run_checks(s3, BackupTarget(bucket=BUCKET, stack="prod"), 60) if "backlog" in c.name]
    assert check.ok and "3 segment(s), 48 MB finished but not archived" in check.detail
