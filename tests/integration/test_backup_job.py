"""services/postgres/backup_job.py: when it runs (DST included), its metrics file, and its failures."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import zoneinfo
from pathlib import Path

import boto3
import pytest

from benchmarks import drill
from tests.conftest import require_tool
from tests.helpers import backup_job_script
from tests.helpers.backup_job_script import SCRIPT

UTC = dt.UTC


job = backup_job_script.load()
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
MEXICO = zoneinfo.ZoneInfo("America/Mexico_City")


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).astimezone(UTC)


def test_next_run_is_today_when_the_time_is_still_ahead() -> None:
    assert job.next_run(at("2026-06-10T01:00:00-06:00"), "02:00", MEXICO) == at("2026-06-10T02:00:00-06:00")


def test_next_run_is_tomorrow_once_the_time_has_passed_or_is_now() -> None:
    assert job.next_run(at("2026-06-10T02:00:00-06:00"), "02:00", MEXICO) == at("2026-06-11T02:00:00-06:00")
    assert job.next_run(at("2026-06-10T23:59:00-06:00"), "02:00", MEXICO) == at("2026-06-11T02:00:00-06:00")


def test_mexico_city_keeps_utc_minus_6_all_year() -> None:
    # No DST there since 2022: 02:00 is 08:00 UTC in January and in July.
    assert job.next_run(at("2026-01-15T00:00:00+00:00"), "02:00", MEXICO) == at("2026-01-15T08:00:00+00:00")
    assert job.next_run(at("2026-07-15T00:00:00+00:00"), "02:00", MEXICO) == at("2026-07-15T08:00:00+00:00")


def test_a_time_skipped_by_spring_forward_runs_after_the_gap() -> None:
    # 2026-03-08: New York clocks jump from 02:00 EST to 03:00 EDT; 02:30 does not exist.
    run = job.next_run(at("2026-03-08T00:00:00-05:00"), "02:30", NEW_YORK)
    assert run == at("2026-03-08T07:30:00+00:00")
    assert run.astimezone(NEW_YORK).strftime("%H:%M %Z") == "03:30 EDT"
    # and the day after it is 02:30 EDT again
    assert job.next_run(run, "02:30", NEW_YORK) == at("2026-03-09T02:30:00-04:00")


def test_a_time_repeated_by_fall_back_runs_once_at_the_first() -> None:
    # 2026-11-01: New York clocks go from 02:00 EDT back to 01:00 EST; 01:30 happens twice.
    first = job.next_run(at("2026-11-01T00:00:00-04:00"), "01:30", NEW_YORK)
    assert first == at("2026-11-01T01:30:00-04:00")
    after_job = first + dt.timedelta(minutes=50)  # the job ran past the second 01:30 (EST)
    assert job.next_run(after_job, "01:30", NEW_YORK) == at("2026-11-02T01:30:00-05:00")


def test_runs_around_spring_forward_are_24_then_23_hours_apart() -> None:
    runs = [job.next_run(at("2026-03-06T12:00:00+00:00"), "02:00", NEW_YORK)]
    for _ in range(3):
        runs.append(job.next_run(runs[-1], "02:00", NEW_YORK))
    gaps = [(b - a).total_seconds() / 3600 for a, b in zip(runs, runs[1:], strict=False)]
    assert [r.astimezone(NEW_YORK).strftime("%d %H:%M") for r in runs] == [
        "07 02:00",
        "08 03:00",
        "09 02:00",
        "10 02:00",
    ]
    assert gaps == [24, 23, 24]


def test_a_bad_time_is_refused() -> None:
    with pytest.raises(job.SettingsError, match="HH:MM"):
        job.next_run(at("2026-01-01T00:00:00+00:00"), "2am", MEXICO)


def test_metrics_keep_the_last_success_of_a_kind_that_failed(tmp_path: Path) -> None:
    path = tmp_path / "quintas_backup.prom"
    job.write_metrics(path, at("2026-11-27T08:00:00+00:00"), {"base": 1000, "dump": 200})
    job.write_metrics(path, at("2026-11-28T08:00:00+00:00"), {"base": 1500, "dump": None})
    values = job.read_metrics(path)
    assert values[("last_success_timestamp_seconds", "base")] == at("2026-11-28T08:00:00+00:00").timestamp()
    assert values[("size_bytes", "base")] == 1500
    assert values[("last_success_timestamp_seconds", "dump")] == at("2026-11-27T08:00:00+00:00").timestamp()
    assert values[("size_bytes", "dump")] == 200
    assert [p.name for p in tmp_path.iterdir()] == ["quintas_backup.prom"]  # no temp file left behind
    promtool = require_tool("promtool", "apt-get install prometheus")
    lint = subprocess.run([promtool, "check", "metrics"], input=path.read_text(), capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_missing_settings_exit_2_with_the_names() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKUP_")}
    result = subprocess.run(["/usr/bin/python3", str(SCRIPT), "run"], env=env, capture_output=True, text=True)
    assert result.returncode == 2
    assert "BACKUP_STACK" in result.stderr and "BACKUP_BUCKET" in result.stderr


def test_a_failed_backup_exits_1_and_deletes_nothing(tmp_path: Path) -> None:
    require_tool("barman-cloud-backup", "apt-get install barman-cli-cloud")
    with drill.s3_server() as endpoint:
        s3 = boto3.client(
            "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s"
        )
        s3.create_bucket(Bucket="backups")
        old = "postgres/prod/quintas-crm/base/20261101T020000/backup.info"
        s3.put_object(Bucket="backups", Key=old, Body=b"status=DONE\n")
        metrics = tmp_path / "quintas_backup.prom"
        job.write_metrics(metrics, at("2026-11-27T08:00:00+00:00"), {"base": 1000, "dump": 200})
        before = metrics.read_text()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("BACKUP_", "PG"))},
            "BACKUP_STACK": "prod",
            "BACKUP_BUCKET": "backups",
            "BACKUP_RETENTION_POLICY": "RECOVERY WINDOW OF 1 DAYS",
            "BACKUP_ENDPOINT_URL": endpoint,
            "BACKUP_TEXTFILE_DIR": str(tmp_path),
            "PGHOST": str(tmp_path / "no-server-here"),
            "AWS_ACCESS_KEY_ID": "k",
            "AWS_SECRET_ACCESS_KEY": "s",
            "AWS_DEFAULT_REGION": "us-east-1",
            "PATH": "/usr/lib/postgresql/15/bin:/usr/bin:/bin",
        }
        result = subprocess.run(["/usr/bin/python3", str(SCRIPT), "run"], env=env, capture_output=True, text=True)
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="backups").get("Contents", [])]
    assert result.returncode == 1
    assert "base backup FAILED" in result.stderr
    assert "retention SKIPPED" in result.stderr
    assert "dump FAILED" in result.stderr
    assert keys == [old]
    assert metrics.read_text() == before


def _prune(monkeypatch: pytest.MonkeyPatch, keys: list[str], window_days: int, now: str) -> list[str]:
    """Puts dumps under these keys, prunes them as the job would at `now`, returns what is left."""
    for key, value in drill.S3_ENV.items():
        monkeypatch.setenv(key, value)
    with drill.s3_server() as endpoint:
        s3 = boto3.client("s3", endpoint_url=endpoint)
        s3.create_bucket(Bucket="backups")
        for key in keys:
            s3.put_object(Bucket="backups", Key=key, Body=b"PGDMP")
        settings = job.Settings.from_environment(
            {
                "BACKUP_STACK": "prod",
                "BACKUP_BUCKET": "backups",
                "BACKUP_RETENTION_POLICY": f"RECOVERY WINDOW OF {window_days} DAYS",
                "BACKUP_ENDPOINT_URL": endpoint,
            }
        )
        assert job.prune_dumps(settings, at(now))
        return sorted(o["Key"] for o in s3.list_objects_v2(Bucket="backups")["Contents"])


def test_dumps_older_than_the_window_are_pruned_but_the_newest_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    names = ["20261001T080000Z", "20261027T080000Z", "20261029T080000Z", "20261128T080000Z"]
    keys = [f"dumps/prod/{name}.dump" for name in names] + ["dumps/staging/20261001T080000Z.dump"]
    assert _prune(monkeypatch, keys, 30, "2026-11-28T08:00:00+00:00") == [
        "dumps/prod/20261029T080000Z.dump",
        "dumps/prod/20261128T080000Z.dump",
        "dumps/staging/20261001T080000Z.dump",
    ]


def test_the_newest_dump_survives_even_when_everything_is_old(monkeypatch: pytest.MonkeyPatch) -> None:
    keys = ["dumps/prod/20250101T080000Z.dump", "dumps/prod/20250102T080000Z.dump"]
    assert _prune(monkeypatch, keys, 7, "2026-11-28T08:00:00+00:00") == ["dumps/prod/20250102T080000Z.dump"]


def _backlog_settings(textfile: Path, database: str) -> object:
    env = {"BACKUP_STACK": "prod", "BACKUP_BUCKET": "b", "BACKUP_RETENTION_POLICY": "RECOVERY WINDOW OF 1 DAYS"}
    return job.Settings.from_environment({**env, "BACKUP_DATABASE": database, "BACKUP_TEXTFILE_DIR": str(textfile)})


def test_the_archiving_backlog_counts_finished_segments_not_yet_archived(monkeypatch: pytest.MonkeyPatch) -> None:
    require_tool("/usr/lib/postgresql/15/bin/postgres", "apt-get install postgresql-15")
    from ops.backup.postgres_local import POSTGRES_USER, LocalServer, find_pg_bin

    pg_bin = find_pg_bin("/usr/lib/postgresql/15/bin")
    with drill.scratch_dir() as workdir:
        server = LocalServer(workdir / "data", pg_bin, workdir / "socket")
        server.initdb()
        # An archive_command that always fails: every finished segment stays ready.
        server.start({"archive_mode": "on", "archive_command": "false", "wal_level": "replica"}, tcp=False)
        try:
            server.wait_accepting(60)
            server.psql("CREATE TABLE t (i int)")
            for _ in range(3):
                server.psql("INSERT INTO t VALUES (1); SELECT pg_switch_wal()")
            for key, value in {"PGHOST": str(server.socket_dir), "PGPORT": str(server.port)}.items():
                monkeypatch.setenv(key, value)
            monkeypatch.setenv("PGUSER", POSTGRES_USER)
            monkeypatch.setenv("PATH", f"{pg_bin}:/usr/bin:/bin")
            textfile = workdir / "textfile"
            assert job.write_backlog(_backlog_settings(textfile, "postgres"), 1700000000.0)
            lines = (textfile / job.BACKLOG_FILE).read_text().splitlines()
            # and a database that cannot be read removes the file: no stale backlog
            assert not job.write_backlog(_backlog_settings(textfile, "no_such_database"), 1700000030.0)
            assert not (textfile / job.BACKLOG_FILE).exists()
        finally:
            server.stop()
    assert "quintas_wal_archive_backlog_segments 3" in lines
    assert f"quintas_wal_archive_backlog_bytes {3 * 16 * 2**20}" in lines
    assert "quintas_wal_archive_backlog_checked_timestamp_seconds 1700000000" in lines
