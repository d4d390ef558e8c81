"""`python -m ops backup verify|restore`: bad input exits 2 and changes nothing; verify reads real S3 state."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from benchmarks import drill
from components.backups import BackupTarget
from ops.__main__ import build_parser
from ops.backup import restore
from ops.backup import verify as backup_verify
from ops.cli import backup

UTC = dt.UTC


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    args = build_parser().parse_args(["backup", *argv])
    return backup.main(args, out=out, err=err), out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with drill.s3_server() as endpoint:
        yield endpoint


@pytest.fixture
def s3(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch):
    for key, value in drill.S3_ENV.items():
        monkeypatch.setenv(key, value)
    return boto3.client("s3", endpoint_url=s3_endpoint)


def test_verify_without_a_bucket_is_bad_input() -> None:
    code, _, err = _run("verify", "--stack", "prod")
    assert code == 2
    assert "pass --bucket NAME or --outputs FILE" in err


def test_verify_with_outputs_lacking_the_bucket_is_bad_input(tmp_path: Path) -> None:
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"appUrl": "https://app.example"}))
    code, _, err = _run("verify", "--stack", "prod", "--outputs", str(outputs))
    assert code == 2
    assert "no backupsBucket output" in err


def test_verify_of_a_stack_without_settings_needs_the_archive_timeout() -> None:
    code, _, err = _run("verify", "--stack", "qa", "--bucket", "b")
    assert code == 2
    assert "Pulumi.qa.yaml" in err and "--archive-timeout" in err


def test_verify_of_an_empty_bucket_fails_every_check(s3, s3_endpoint: str, tmp_path: Path) -> None:
    s3.create_bucket(Bucket="empty-backups")
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"backupsBucket": "empty-backups"}))
    code, out, _ = _run("verify", "--stack", "prod", "--outputs", str(outputs), "--endpoint-url", s3_endpoint)
    assert code == 1
    assert out.count("FAIL  ") == 4
    assert "archive_timeout 50s" in out  # read from Pulumi.prod.yaml


def _fill(s3, bucket: str, dump_body: bytes, backlog: int = 0) -> None:
    s3.create_bucket(Bucket=bucket)
    base = "postgres/prod/quintas-crm/base/"
    s3.put_object(Bucket=bucket, Key=base + "20261127T080000/backup.info", Body=b"status=DONE\nend_time=x\n")
    s3.put_object(Bucket=bucket, Key=base + "20261127T080000/data.tar.gz", Body=gzip.compress(b"x" * 1000))
    s3.put_object(Bucket=bucket, Key=base + "20261128T080000/backup.info", Body=b"status=FAILED\n")
    wals = "postgres/prod/quintas-crm/wals/0000000100000000/"
    s3.put_object(Bucket=bucket, Key=wals + "000000010000000000000004.gz", Body=b"wal")
    s3.put_object(Bucket=bucket, Key="dumps/prod/20261127T080000Z.dump", Body=dump_body)
    status = {"at": time.time(), "asked": "000000010000000000000004", "exit": 0, "ready_segments": backlog}
    status["oldest_ready"] = "000000010000000000000005" if backlog else None
    s3.put_object(Bucket=bucket, Key="postgres/prod/quintas-crm.archive-status.json", Body=json.dumps(status))


def test_verify_passes_on_fresh_backups_and_reports_each(s3, s3_endpoint: str) -> None:
    _fill(s3, "fresh-backups", b"PGDMP...")
    code, out, _ = _run("verify", "--stack", "prod", "--bucket", "fresh-backups", "--endpoint-url", s3_endpoint)
    assert code == 0, out
    assert "ok    newest base backup: 20261127T080000" in out  # the FAILED later one does not count
    assert "000000010000000000000004.gz" in out
    assert "dumps/prod/20261127T080000Z.dump, 8 bytes" in out
    assert "ok    WAL archiving backlog: 0 segment(s), 0 MB finished but not archived" in out
    assert out.strip().endswith("all backup checks passed")


def test_stale_backups_and_an_empty_dump_fail(s3) -> None:
    _fill(s3, "stale-backups", b"", backlog=9)
    later = dt.datetime.now(UTC) + dt.timedelta(hours=27)
    checks = backup_verify.run_checks(s3, BackupTarget(bucket="stale-backups", stack="prod"), 60, now=later)
    assert [(c.name, c.ok) for c in checks] == [
        ("newest base backup", False),
        ("WAL archiving", False),
        ("newest dump", False),
        ("WAL archiving backlog", False),
    ]
    assert "EMPTY" in checks[2].detail
    assert "9 segment(s), 144 MB finished but not archived, oldest 000000010000000000000005" in checks[3].detail


def test_restore_refuses_a_non_empty_target_dir(tmp_path: Path) -> None:
    (tmp_path / "PG_VERSION").write_text("15\n")
    code, _, err = _run("restore", "--stack", "prod", "--bucket", "b", "--to", "latest", "--target-dir", str(tmp_path))
    assert code == 2
    assert f"target directory {tmp_path} is not empty" in err
    assert [p.name for p in tmp_path.iterdir()] == ["PG_VERSION"]


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [("--to", "yesterday", "neither `latest` nor an ISO time"), ("--verify-table", "lots; DROP", "not a table name")],
)
def test_restore_refuses_bad_options_before_touching_anything(
    tmp_path: Path, option: str, value: str, message: str
) -> None:
    target = tmp_path / "new"
    argv = ["restore", "--stack", "prod", "--bucket", "b", "--to", "latest", "--target-dir", str(target)]
    code, _, err = _run(*argv, option, value)
    assert code == 2
    assert message in err
    assert not target.exists()


def _backup(backup_id: str, end: str, status: str = "DONE") -> backup_verify.BaseBackup:
    return backup_verify.BaseBackup(backup_id, status, dt.datetime.fromisoformat(end), dt.datetime.now(UTC))


def test_pitr_picks_the_newest_backup_that_ended_before_the_target_whatever_its_offset() -> None:
    backups = [
        _backup("20261126T080000", "2026-11-26 02:00:40-06:00"),
        _backup("20261127T080000", "2026-11-27 08:00:40+00:00"),
        _backup("20261128T080000", "2026-11-28 02:00:40-06:00"),
        _backup("20261128T090000", "2026-11-28 09:00:40+00:00", status="FAILED"),
    ]
    assert restore.choose_backup(backups, None) == "20261128T080000"
    assert restore.choose_backup(backups, restore.parse_target("2026-11-28T08:00:00Z")) == "20261127T080000"
    assert restore.choose_backup(backups, restore.parse_target("2026-11-28T02:01:00-06:00")) == "20261128T080000"
    with pytest.raises(restore.RestoreError, match="no finished base backup that ended before"):
        restore.choose_backup(backups, restore.parse_target("2026-11-01T00:00:00"))


def test_backup_info_end_time_keeps_its_offset(s3) -> None:
    s3.create_bucket(Bucket="info-backups")
    key = "postgres/prod/quintas-crm/base/20261128T080000/backup.info"
    s3.put_object(Bucket="info-backups", Key=key, Body=b"status=DONE\nend_time=2026-11-28 02:00:41.123456-06:00\n")
    [found] = backup_verify.base_backups(s3, BackupTarget(bucket="info-backups", stack="prod"))
    assert found.backup_id == "20261128T080000" and found.status == "DONE"
    assert found.end_time == dt.datetime(2026, 11, 28, 8, 0, 41, 123456, tzinfo=UTC)


def test_a_failed_restore_leaves_no_half_restored_directory(s3, s3_endpoint: str, tmp_path: Path) -> None:
    s3.create_bucket(Bucket="broken-backups")
    key = "postgres/prod/quintas-crm/base/20261128T080000/backup.info"
    s3.put_object(Bucket="broken-backups", Key=key, Body=b"status=DONE\nend_time=2026-11-28 08:00:41+00:00\n")
    tmp_path.chmod(0o755)  # the postgres user restores into it
    target = tmp_path / "restored"
    argv = ["restore", "--stack", "prod", "--bucket", "broken-backups", "--endpoint-url", s3_endpoint]
    code, out, err = _run(*argv, "--to", "latest", "--target-dir", str(target))
    assert code == 1
    assert "barman-cloud-restore exited" in err
    assert "20261128T080000" in out
    assert not target.exists()


def test_restore_verifies_as_the_role_the_stacks_cluster_has(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # The stack's cluster is initialised with POSTGRES_USER = postgres, the superuser; the
    # owner role (directus) may not read PostGIS's tiger schema, which the verification counts.
    from components.backups import SUPERUSER
    from ops.backup import postgres_local

    args = build_parser().parse_args(
        ["backup", "restore", "--stack", "prod", "--bucket", "b", "--to", "latest", "--target-dir", str(tmp_path)]
    )
    assert args.db_user == SUPERUSER == "postgres"
    calls: list[list[str]] = []
    monkeypatch.setattr(
        postgres_local, "run_as_postgres", lambda argv, **kw: calls.append(argv) or type("R", (), {"stdout": "f"})()
    )
    server = postgres_local.LocalServer(tmp_path, Path("/usr/bin"), tmp_path / "socket", user=args.db_user)
    assert server.psql("SELECT 1") == "f"
    assert calls[0][calls[0].index("-U") + 1] == "postgres"
