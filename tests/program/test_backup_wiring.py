"""The stack's postgres and backup-job containers carry the backup settings (simulated engine)."""

from __future__ import annotations

from ops.sim import engine


def _container(run: engine.Run, name: str) -> dict:
    return engine.reveal(run.one("docker:index/container:Container", name).inputs)


def _env(container: dict) -> dict[str, str]:
    return dict(item.split("=", 1) for item in container["envs"])


def _label(container: dict, key: str) -> str:
    return next(label["value"] for label in container["labels"] if label["label"] == key)


def test_prod_postgres_archives_wal_to_the_backups_bucket(prod: engine.Run) -> None:
    postgres = _container(prod, "postgres")
    settings = dict(arg.split("=", 1) for arg in postgres["command"][2::2])
    assert postgres["command"][0] == "postgres"
    assert settings["archive_mode"] == "on"
    assert settings["archive_timeout"] == "50s"
    assert settings["wal_level"] == "replica"
    assert settings["archive_command"] == (
        'wal-archive-ahead 4 barman-cloud-wal-archive --gzip "s3://${BACKUPS_BUCKET}/postgres/prod" quintas-crm %p'
    )
    assert _env(postgres)["BACKUPS_BUCKET"] == prod.outputs["backupsBucket"]


def test_backup_job_runs_the_postgres_image_on_its_data_at_the_stack_time(prod: engine.Run) -> None:
    postgres, job = _container(prod, "postgres"), _container(prod, "backup")
    assert _label(job, "quintas.image") == _label(postgres, "quintas.image")
    assert job["command"] == ["backup-job", "schedule"]
    env = _env(job)
    assert env["BACKUP_BUCKET"] == prod.outputs["backupsBucket"]
    assert env["BACKUP_TIME"] == "02:00" and env["BACKUP_TIME_ZONE"] == "America/Mexico_City"
    assert env["BACKUP_RETENTION_POLICY"] == "RECOVERY WINDOW OF 30 DAYS"
    assert env["BACKUP_DATABASE"] == _env(postgres)["POSTGRES_DB"]
    assert env["PGUSER"] == _env(postgres)["BACKUP_DB_USER"] == "backup"
    assert env["PGUSER"] != _env(postgres)["POSTGRES_USER"]
    assert env["PGPASSWORD_FILE"].startswith("/run/secrets/")
    assert "PGPASSWORD" not in env
    data = {(v["hostPath"], v["containerPath"]) for v in postgres["volumes"]}
    assert data <= {(v["hostPath"], v["containerPath"]) for v in job["volumes"]}
    textfile = [v for v in job["volumes"] if v["containerPath"] == env["BACKUP_TEXTFILE_DIR"]]
    assert textfile and textfile[0]["hostPath"] == "/srv/data/node-exporter-textfile"


def test_staging_keeps_its_own_window_and_prefix(staging: engine.Run) -> None:
    env = _env(_container(staging, "backup"))
    assert env["BACKUP_RETENTION_POLICY"] == "RECOVERY WINDOW OF 7 DAYS"
    assert env["BACKUP_STACK"] == "staging"
    command = _container(staging, "postgres")["command"]
    assert any("s3://${BACKUPS_BUCKET}/postgres/staging" in arg for arg in command)


def test_the_backup_job_has_its_log_group(prod: engine.Run) -> None:
    names = [g.inputs["name"] for g in prod.of_type("aws:cloudwatch/logGroup:LogGroup")]
    assert "/quintas-crm/prod/backup" in names
    assert len(names) == len(set(names))
