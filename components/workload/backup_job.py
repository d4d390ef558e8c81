"""The backup job's ServiceSpec: the postgres image running `backup-job schedule`.

It shares the postgres data volume at the same path (barman-cloud-backup reads
the data files), reaches the server over the backend network as its own role (components/workload/db_roles.py)
with that role's password as a secret file, writes to S3 over the egress network with the
instance role, and leaves its metrics in node-exporter's textfile directory.
The catalogue (components/workload/catalogue.py) adds it next to postgres.
"""

from __future__ import annotations

import pulumi

from components.backups import (
    PGDATA_MOUNT,
    TEXTFILE_DIR,
    BackupTarget,
    backup_job_environment,
)
from components.config import StackConfig
from components.workload.db_roles import BACKUP
from components.workload.services import HealthCheck, Image, ServiceSpec, Volume

NAME = "backup"
# Starts as root only to own the textfile directory, then drops to the postgres user (backup_job.py).
COMMAND = ("backup-job", "schedule")


def backup_job_spec(
    config: StackConfig,
    image: Image,
    backups_bucket: pulumi.Input[str],
    db_password: pulumi.Input[str],
    database: str,
    db_user: str,
    textfile_host_dir: str,
    postgres_data_host_dir: str,
) -> ServiceSpec:
    env: dict[str, pulumi.Input[str]] = dict(
        backup_job_environment(
            target=BackupTarget(bucket="-", stack=config.stack),
            backup_time=config.backup_time,
            time_zone=config.time_zone,
            recovery_window_days=config.recovery_window_days,
            database=database,
            pg_host="postgres",
            pg_user=db_user,
        )
    )
    env["BACKUP_BUCKET"] = backups_bucket
    env["AWS_DEFAULT_REGION"] = config.region
    return ServiceSpec(
        name=NAME,
        image=image,
        command=COMMAND,
        env=env,
        secrets={BACKUP.secret: db_password},
        secret_env={"PGPASSWORD_FILE": BACKUP.secret},
        # Healthy while the database it backs up answers.
        health=HealthCheck(("pg_isready", "-h", "postgres", "-U", db_user, "-d", database), start_period="60s"),
        memory_mb=256,
        cpus=1.0,
        volumes=(
            Volume(postgres_data_host_dir, PGDATA_MOUNT),
            Volume(textfile_host_dir, TEXTFILE_DIR),
        ),
        networks=("backend", "egress"),
        depends_on=("postgres",),
        # A backup in progress is worth finishing before a replacement starts.
        replacement="delete-first",
        stop_grace_seconds=60,
    )
