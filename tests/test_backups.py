"""components/backups.py: the server settings and backup-job environment each stack gets."""

from __future__ import annotations

import shlex

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


def test_prod_archives_gzip_wal_to_its_stack_prefix_every_60_seconds(prod_config: StackConfig) -> None:
    settings = backups.stack_postgres_settings(prod_config, "quintas-crm-prod-backups")
    assert settings["wal_level"] == "replica"
    assert settings["archive_mode"] == "on"
    assert settings["archive_timeout"] == "60s"
    assert settings["archive_command"] == (
        "barman-cloud-wal-archive --gzip s3://quintas-crm-prod-backups/postgres/prod quintas-crm %p"
    )
    assert settings["max_connections"] == "100"


def test_shared_buffers_are_an_eighth_of_the_instance_memory() -> None:
    sizes = {
        instance: backups.stack_postgres_settings(_config("staging", instanceType=instance), "b")["shared_buffers"]
        for instance in ("t3.medium", "t3.large", "t3.xlarge")
    }
    assert sizes == {"t3.medium": "512MB", "t3.large": "1024MB", "t3.xlarge": "2048MB"}


def test_memory_settings_never_go_below_workable_minimums() -> None:
    small = backups.memory_settings(0.5)
    assert small["shared_buffers"] == "128MB"
    assert small["work_mem"] == "4MB"
    assert small["maintenance_work_mem"] == "64MB"
    with pytest.raises(ValueError, match="memory"):
        backups.memory_settings(0)


def test_endpoint_url_appears_only_when_asked_for() -> None:
    plain = BackupTarget(bucket="b", stack="drill")
    local = BackupTarget(bucket="b", stack="drill", endpoint_url="http://127.0.0.1:9000")
    assert "--endpoint-url" not in backups.archive_command(plain)
    words = shlex.split(backups.archive_command(local))
    assert words == [
        "barman-cloud-wal-archive",
        "--gzip",
        "--endpoint-url",
        "http://127.0.0.1:9000",
        "s3://b/postgres/drill",
        "quintas-crm",
        "%p",
    ]
    assert shlex.split(backups.restore_command(local))[-4:] == ["s3://b/postgres/drill", "quintas-crm", "%f", "%p"]


def test_server_arguments_pass_every_setting_with_dash_c() -> None:
    args = backups.server_arguments({"wal_level": "replica", "archive_timeout": "60s"})
    assert args == ["-c", "archive_timeout=60s", "-c", "wal_level=replica"]


def test_bad_values_are_refused() -> None:
    target = BackupTarget(bucket="b", stack="s")
    with pytest.raises(ValueError, match="archive_timeout"):
        backups.postgres_settings(memory_gib=4, archive_timeout_seconds=0, target=target)
    with pytest.raises(ValueError, match="max_connections"):
        backups.postgres_settings(memory_gib=4, archive_timeout_seconds=60, target=target, max_connections=5)
    with pytest.raises(ValueError, match="recovery window"):
        backups.retention_policy(0)


def test_backup_job_runs_at_the_stack_time_and_keeps_the_recovery_window(prod_config: StackConfig) -> None:
    env = backups.stack_backup_job_environment(prod_config, "quintas-crm-prod-backups")
    assert env["BACKUP_TIME"] == "02:00"
    assert env["BACKUP_TIME_ZONE"] == "America/Mexico_City"
    assert env["BACKUP_RETENTION_POLICY"] == "RECOVERY WINDOW OF 30 DAYS"
    assert env["BACKUP_STACK"] == "prod"
    assert env["BACKUP_BUCKET"] == "quintas-crm-prod-backups"
    assert env["BACKUP_DATABASE"] == "quintas_crm"
    assert env["PGHOST"] == "/var/run/postgresql"
    assert "BACKUP_ENDPOINT_URL" not in env


def test_staging_keeps_its_own_shorter_window() -> None:
    env = backups.stack_backup_job_environment(_config("staging"), "quintas-crm-staging-backups")
    assert env["BACKUP_RETENTION_POLICY"] == "RECOVERY WINDOW OF 7 DAYS"
    assert env["BACKUP_STACK"] == "staging"


def test_backup_job_shares_data_socket_and_textfile_dirs_with_the_server() -> None:
    mounts = backups.backup_job_mounts()
    assert mounts["data"] == "/var/lib/postgresql/data"
    assert (
        mounts["socket"]
        == backups.backup_job_environment(
            target=BackupTarget(bucket="b", stack="s"), backup_time="02:00", time_zone="UTC", recovery_window_days=7
        )["PGHOST"]
    )
    assert mounts["textfile"].endswith("/textfile")
    assert backups.BACKUP_JOB_COMMAND == ("backup-job", "schedule")
