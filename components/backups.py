"""Backup settings: PostgreSQL WAL archiving and the scheduled backup job, as pure functions.

Makes the server settings of the postgres container (WAL archiving to S3 with
Barman Cloud, connection and memory limits sized to the instance) and the
environment of the backup-job container (schedule, destinations, retention).
It creates no resource: the ServiceSpecs in components/services.py call these
functions, and the backup drill runs the very same archive_command.

S3 layout in the backups bucket:
  postgres/<stack>/<server>/base/<backup id>/...   base backups (barman-cloud-backup)
  postgres/<stack>/<server>/wals/<timeline..>/...  WAL segments (barman-cloud-wal-archive)
  dumps/<stack>/<YYYYMMDDTHHMMSSZ>.dump            daily `pg_dump -Fc` of the CRM database
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the operator tools use this module without loading the Pulumi SDK
    from components.config import StackConfig

BARMAN_SERVER = "quintas-crm"
CRM_DATABASE = "quintas_crm"
# node-exporter's textfile collector directory inside the backup-job container.
TEXTFILE_DIR = "/var/lib/node-exporter/textfile"
METRICS_FILE = "quintas_backup.prom"
SOCKET_DIR = "/var/run/postgresql"
# The postgres image's data directory and user: barman-cloud-backup reads the data
# files itself, so the job mounts the data volume at the same path, as the same uid.
PGDATA = "/var/lib/postgresql/data"
POSTGRES_UID = 999
BACKUP_JOB_COMMAND = ("backup-job", "schedule")
# barman-cloud-* 3.4 (Debian bookworm, the image's base) offers gzip, bzip2 and snappy;
# bookworm's python3-snappy 0.5.3 fails under Python 3.11 ("PY_SSIZE_T_CLEAN macro must
# be defined"), and bzip2 is slower than gzip for no restore-time gain. So gzip.
COMPRESSION = "--gzip"
DEFAULT_MAX_CONNECTIONS = 100


@dataclass(frozen=True)
class BackupTarget:
    """Where one stack's backups live. `endpoint_url` is for S3-compatible servers (the drill)."""

    bucket: str
    stack: str
    server: str = BARMAN_SERVER
    endpoint_url: str | None = None

    @property
    def barman_url(self) -> str:
        return f"s3://{self.bucket}/postgres/{self.stack}"

    @property
    def barman_prefix(self) -> str:
        """The key prefix barman writes under: `postgres/<stack>/<server>/`."""
        return f"postgres/{self.stack}/{self.server}/"

    @property
    def dumps_prefix(self) -> str:
        return f"dumps/{self.stack}/"

    def cloud_options(self) -> list[str]:
        return ["--endpoint-url", self.endpoint_url] if self.endpoint_url else []


def archive_command(target: BackupTarget) -> str:
    """The archive_command: one compressed WAL segment to S3 per call; non-zero makes PostgreSQL retry."""
    words = ["barman-cloud-wal-archive", COMPRESSION, *target.cloud_options(), target.barman_url, target.server]
    return " ".join(shlex.quote(w) for w in words) + " %p"


def restore_command(target: BackupTarget) -> str:
    """The restore_command of a recovering server: fetch %f from the archive into %p."""
    words = ["barman-cloud-wal-restore", *target.cloud_options(), target.barman_url, target.server]
    return " ".join(shlex.quote(w) for w in words) + " %f %p"


def retention_policy(recovery_window_days: int) -> str:
    if recovery_window_days < 1:
        raise ValueError(f"recovery window must be at least 1 day, got {recovery_window_days}")
    return f"RECOVERY WINDOW OF {recovery_window_days} DAYS"


def _megabytes(value: float) -> str:
    return f"{max(int(value), 1)}MB"


def memory_settings(memory_gib: float) -> dict[str, str]:
    """Memory settings for a host shared with Directus, Next.js, Redis and monitoring.

    PostgreSQL gets an eighth of RAM as shared buffers (not the usual quarter,
    since the host is not a dedicated database server); the page cache is
    assumed to hold about half of RAM for it.
    """
    if memory_gib <= 0:
        raise ValueError(f"memory must be positive, got {memory_gib} GiB")
    total_mb = memory_gib * 1024
    return {
        "shared_buffers": _megabytes(max(total_mb / 8, 128)),
        "effective_cache_size": _megabytes(total_mb / 2),
        "maintenance_work_mem": _megabytes(min(max(total_mb / 32, 64), 1024)),
        "work_mem": _megabytes(min(max(total_mb / 512, 4), 32)),
    }


def postgres_settings(
    *,
    memory_gib: float,
    archive_timeout_seconds: int,
    target: BackupTarget,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
) -> dict[str, str]:
    """Every server setting the backup design depends on, as `name -> value` strings."""
    if archive_timeout_seconds < 1:
        raise ValueError(f"archive_timeout must be at least 1 second, got {archive_timeout_seconds}")
    if not 10 <= max_connections <= 1000:
        raise ValueError(f"max_connections must be from 10 to 1000, got {max_connections}")
    return {
        "wal_level": "replica",
        "archive_mode": "on",
        # A partly filled segment is shipped after this long: it bounds the data lost with the host.
        "archive_timeout": f"{archive_timeout_seconds}s",
        "archive_command": archive_command(target),
        "wal_compression": "on",
        "max_wal_size": "2GB",
        "checkpoint_timeout": "15min",
        "max_connections": str(max_connections),
        **memory_settings(memory_gib),
    }


def stack_postgres_settings(config: StackConfig, bucket: str, endpoint_url: str | None = None) -> dict[str, str]:
    """The postgres container's settings for one stack (bucket: the backups bucket's name)."""
    return postgres_settings(
        memory_gib=config.instance_shape.memory_gib,
        archive_timeout_seconds=config.archive_timeout_seconds,
        target=BackupTarget(bucket=bucket, stack=config.stack, endpoint_url=endpoint_url),
    )


def server_arguments(settings: dict[str, str]) -> list[str]:
    """`postgres -c name=value ...`: the container command that applies the settings."""
    args: list[str] = []
    for name in sorted(settings):
        args += ["-c", f"{name}={settings[name]}"]
    return args


def backup_job_environment(
    *,
    target: BackupTarget,
    backup_time: str,
    time_zone: str,
    recovery_window_days: int,
    database: str = CRM_DATABASE,
    textfile_dir: str = TEXTFILE_DIR,
    socket_dir: str = SOCKET_DIR,
) -> dict[str, str]:
    """The backup job's environment, read by services/postgres/backup_job.py.

    The job reaches the server through its Unix socket (a volume both containers
    mount) as the postgres user: no password travels and no TCP port is needed.
    """
    env = {
        "PGHOST": socket_dir,
        "PGUSER": "postgres",
        "BACKUP_TIME": backup_time,
        "BACKUP_TIME_ZONE": time_zone,
        "BACKUP_STACK": target.stack,
        "BACKUP_BUCKET": target.bucket,
        "BARMAN_SERVER": target.server,
        "BACKUP_RETENTION_POLICY": retention_policy(recovery_window_days),
        "BACKUP_DATABASE": database,
        "BACKUP_TEXTFILE_DIR": textfile_dir,
    }
    if target.endpoint_url:
        env["BACKUP_ENDPOINT_URL"] = target.endpoint_url
    return env


def stack_backup_job_environment(config: StackConfig, bucket: str) -> dict[str, str]:
    return backup_job_environment(
        target=BackupTarget(bucket=bucket, stack=config.stack),
        backup_time=config.backup_time,
        time_zone=config.time_zone,
        recovery_window_days=config.recovery_window_days,
    )


def backup_job_mounts() -> dict[str, str]:
    """What the backup job shares with the postgres container (and node-exporter): name -> path."""
    return {"data": PGDATA, "socket": SOCKET_DIR, "textfile": TEXTFILE_DIR}
