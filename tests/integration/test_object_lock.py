"""Barman's retention under S3 Object Lock, as the backups bucket has it (components/aws/buckets.py).

The bucket is made as the program makes it: versioning, then Object Lock enabled in place with a
default GOVERNANCE retention. Real PostgreSQL archives WAL into it with barman-cloud-wal-archive,
the real backup job takes two base backups and dumps, and barman-cloud-backup-delete applies a
retention policy that drops the older backup; all against moto's S3 API on 127.0.0.1, which
enforces Object Lock (and its checksum header on uploads) but not IAM.

What it shows: uploads into a locked bucket work; barman's deletes (DeleteObjects without version
ids) only add delete markers, so barman's catalogue forgets the old backup while every version
stays in the bucket under its lock; removing a locked version for good is refused unless the
governance lock is bypassed, which the host's role may never do (the bucket policy denies
s3:BypassGovernanceRetention and s3:DeleteObjectVersion to it: tests/program/test_buckets.py).
The versions behind the markers go by lifecycle (noncurrent expiry), never by the host.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from benchmarks import drill
from components.backups import BUCKET_ENV, BackupTarget, backup_job_environment, postgres_settings
from ops.backup.postgres_local import POSTGRES_USER, LocalServer, find_pg_bin, give_to_postgres, run_as_postgres
from tests.conftest import require_tool

pytestmark = pytest.mark.slow

BUCKET = "quintas-crm-lock-backups"
LOCK_DAYS = 31  # the prod lock: recoveryWindowDays + 1
SERVICES = Path(__file__).resolve().parents[2] / "services" / "postgres"
JOB_SCRIPT, WAL_ARCHIVE_AHEAD = SERVICES / "backup_job.py", SERVICES / "wal_archive_ahead.py"


def _s3(endpoint: str) -> Any:
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **drill._boto_keys())


def _locked_bucket(s3: Any) -> None:
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object_lock_configuration(
        Bucket=BUCKET,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": LOCK_DAYS}},
        },
    )


def _barman(*args: str, target: BackupTarget) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **drill.S3_ENV}
    argv = [args[0], *target.cloud_options(), *args[1:], target.barman_url, target.server]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300, check=False)


def _archive_tools(workdir: Path) -> Path:
    """archive_command's `wal-archive-ahead`, which the image installs, run by the system python3 here."""
    tools = workdir / "bin"
    tools.mkdir()
    wrapper = tools / "wal-archive-ahead"
    wrapper.write_text(f'#!/bin/sh\nexec /usr/bin/python3 {WAL_ARCHIVE_AHEAD} "$@"\n')
    wrapper.chmod(0o755)
    give_to_postgres(tools, 0o755)
    return tools


def _run_backup_job(workdir: Path, target: BackupTarget, server: LocalServer) -> subprocess.CompletedProcess[str]:
    """The real job script, run as the postgres user with Debian's python3 (as in the image)."""
    workdir.mkdir()
    give_to_postgres(workdir, 0o755)
    script = workdir / "backup-job"
    shutil.copy(JOB_SCRIPT, script)
    script.chmod(0o755)
    env = backup_job_environment(
        target=target,
        backup_time="02:00",
        time_zone="UTC",
        recovery_window_days=7,
        pg_user=POSTGRES_USER,  # this server was initialised with the postgres superuser
        textfile_dir=str(workdir / "textfile"),
    )
    env |= {"PGHOST": str(server.socket_dir), "PGPORT": str(server.port), **drill.S3_ENV}
    env["PATH"] = f"{server.pg_bin}:/usr/bin:/bin"
    (workdir / "textfile").mkdir()
    give_to_postgres(workdir / "textfile", 0o755)
    return run_as_postgres(["/usr/bin/python3", str(script), "run"], env=env, timeout=3600, check=False)


@contextlib.contextmanager
def _archiving_primary(workdir: Path, endpoint: str) -> Iterator[tuple[LocalServer, BackupTarget]]:
    target = BackupTarget(bucket=BUCKET, stack=drill.STACK, endpoint_url=endpoint)
    primary = LocalServer(workdir / "primary", find_pg_bin("/usr/lib/postgresql/15/bin"), workdir / "socket")
    primary.initdb()
    settings = postgres_settings(archive_timeout_seconds=5, target=target)
    primary.start(
        settings, env={**drill.S3_ENV, BUCKET_ENV: BUCKET, "PATH": f"{_archive_tools(workdir)}:/usr/bin:/bin"}
    )
    try:
        primary.wait_accepting(60)
        primary.psql(f"CREATE DATABASE {drill.DATABASE} STRATEGY = FILE_COPY")
        yield primary, target
    finally:
        primary.kill()


@pytest.fixture(scope="module")
def locked_run() -> Iterator[dict[str, Any]]:
    require_tool("barman-cloud-backup-delete", "apt-get install barman-cli-cloud")
    require_tool("/usr/lib/postgresql/15/bin/postgres", "apt-get install postgresql-15 postgresql-15-postgis-3")
    with drill.scratch_dir() as workdir, drill.s3_server() as endpoint:
        s3 = _s3(endpoint)
        _locked_bucket(s3)
        with _archiving_primary(workdir, endpoint) as (primary, target):
            jobs = [_run_backup_job(workdir / f"job-{n}", target, primary) for n in (1, 2)]
            listed = _barman("barman-cloud-backup-list", "--format", "json", target=target)
            delete = _barman("barman-cloud-backup-delete", "--retention-policy", "REDUNDANCY 1", target=target)
            after = _barman("barman-cloud-backup-list", "--format", "json", target=target)
        yield {"s3": s3, "jobs": jobs, "before": listed, "delete": delete, "after": after, "target": target}


def _backup_ids(listing: subprocess.CompletedProcess[str]) -> list[str]:
    import json

    assert listing.returncode == 0, listing.stderr
    return [b["backup_id"] for b in json.loads(listing.stdout)["backups_list"]]


def _versions(s3: Any, prefix: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    pages = s3.get_paginator("list_object_versions").paginate(Bucket=BUCKET, Prefix=prefix)
    versions, markers = [], []
    for page in pages:
        versions += page.get("Versions", [])
        markers += page.get("DeleteMarkers", [])
    return versions, markers


def test_backup_jobs_upload_into_the_locked_bucket(locked_run: dict[str, Any]) -> None:
    for job in locked_run["jobs"]:
        assert job.returncode == 0, job.stderr
    assert len(_backup_ids(locked_run["before"])) == 2


def test_retention_deletes_the_old_backup_from_barmans_catalogue(locked_run: dict[str, Any]) -> None:
    assert locked_run["delete"].returncode == 0, locked_run["delete"].stderr
    before, after = _backup_ids(locked_run["before"]), _backup_ids(locked_run["after"])
    assert after == before[1:]


def test_the_deleted_backup_stays_in_the_bucket_as_locked_versions_behind_markers(locked_run: dict[str, Any]) -> None:
    s3, target = locked_run["s3"], locked_run["target"]
    old = _backup_ids(locked_run["before"])[0]
    versions, markers = _versions(s3, f"{target.barman_prefix}base/{old}/")
    assert versions and markers, "barman's delete left delete markers in front of the old backup's versions"
    assert {m["Key"] for m in markers} == {v["Key"] for v in versions}
    assert all(m["IsLatest"] for m in markers)
    head = s3.head_object(Bucket=BUCKET, Key=versions[0]["Key"], VersionId=versions[0]["VersionId"])
    assert head["ObjectLockMode"] == "GOVERNANCE"


def test_a_locked_version_cannot_be_deleted_for_good_without_bypassing_governance(locked_run: dict[str, Any]) -> None:
    s3, target = locked_run["s3"], locked_run["target"]
    old = _backup_ids(locked_run["before"])[0]
    versions, _ = _versions(s3, f"{target.barman_prefix}base/{old}/")
    key, version = versions[0]["Key"], versions[0]["VersionId"]
    with pytest.raises(ClientError) as refused:
        s3.delete_object(Bucket=BUCKET, Key=key, VersionId=version)
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    # Only the governance bypass (denied to the host's role by the bucket policy) removes it.
    s3.delete_object(Bucket=BUCKET, Key=key, VersionId=version, BypassGovernanceRetention=True)
    assert version not in {v["VersionId"] for v in _versions(s3, key)[0]}
