"""components/backups.py: the server settings and backup-job environment each stack gets."""

from __future__ import annotations

import shlex
import subprocess

import pytest

from components import backups
from components.backups import BackupTarget
from components.config import StackConfig
from tests.conftest import simulate


def _config(stack: str, **overrides: object) -> StackConfig:
    seen: list[StackConfig] = []
    simulate(stack, program=lambda: seen.append(StackConfig.load()), **overrides)
    return seen[0]


@pytest.fixture(scope="module")
def prod_config() -> StackConfig:
    return _config("prod")


def test_prod_archives_gzip_wal_to_its_stack_prefix_every_50_seconds(prod_config: StackConfig) -> None:
    settings = backups.stack_postgres_settings(prod_config)
    assert settings["wal_level"] == "replica"
    assert settings["archive_mode"] == "on"
    assert settings["archive_timeout"] == "50s"
    assert settings["archive_command"] == (
        'wal-archive-ahead 4 barman-cloud-wal-archive --gzip "s3://${BACKUPS_BUCKET}/postgres/prod" quintas-crm %p'
    )


@pytest.mark.slow  # drives a real tool or process
def test_the_shell_running_archive_command_names_the_bucket_from_the_environment(prod_config: StackConfig) -> None:
    command = backups.stack_postgres_settings(prod_config)["archive_command"]
    # PostgreSQL runs archive_command with /bin/sh -c; `echo` shows the words barman receives.
    shown = subprocess.run(
        ["sh", "-c", "printf '%s\\n' " + command.split(" ", 3)[3].replace("%p", "pg_wal/000000010000000000000001")],
        env={"BACKUPS_BUCKET": "quintas-crm-prod-backups-123"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert shown == [
        "--gzip",
        "s3://quintas-crm-prod-backups-123/postgres/prod",
        "quintas-crm",
        "pg_wal/000000010000000000000001",
    ]


def test_endpoint_url_appears_only_when_asked_for() -> None:
    plain = BackupTarget(bucket="b", stack="drill")
    local = BackupTarget(bucket="b", stack="drill", endpoint_url="http://127.0.0.1:9000")
    assert "--endpoint-url" not in backups.archive_command(plain)
    words = shlex.split(backups.archive_command(local))
    assert words == [
        "wal-archive-ahead",
        "4",
        "barman-cloud-wal-archive",
        "--gzip",
        "--endpoint-url",
        "http://127.0.0.1:9000",
        "s3://b/postgres/drill",
        "quintas-crm",
        "%p",
    ]
    restore = shlex.split(backups.restore_command(local))
    assert restore[:3] == ["barman-cloud-wal-restore", "--parallel", "8"]
    assert restore[-4:] == ["s3://b/postgres/drill", "quintas-crm", "%f", "%p"]


def test_bad_values_are_refused() -> None:
    target = BackupTarget(bucket="b", stack="s")
    with pytest.raises(ValueError, match="archive_timeout"):
        backups.postgres_settings(archive_timeout_seconds=0, target=target)
    with pytest.raises(ValueError, match="recovery window"):
        backups.retention_policy(0)


def test_backup_job_environment_names_schedule_window_and_database() -> None:
    env = backups.backup_job_environment(
        target=BackupTarget(bucket="b", stack="prod"),
        backup_time="02:00",
        time_zone="America/Mexico_City",
        recovery_window_days=30,
        database="quintas_crm",
        pg_user="directus",
    )
    assert env["BACKUP_TIME"] == "02:00"
    assert env["BACKUP_TIME_ZONE"] == "America/Mexico_City"
    assert env["BACKUP_RETENTION_POLICY"] == "RECOVERY WINDOW OF 30 DAYS"
    assert env["BACKUP_STACK"] == "prod"
    assert env["BACKUP_DATABASE"] == "quintas_crm"
    assert (env["PGHOST"], env["PGUSER"]) == ("postgres", "directus")
    assert "BACKUP_ENDPOINT_URL" not in env
