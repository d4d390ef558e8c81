"""Backup settings: PostgreSQL WAL archiving and the scheduled backup job, as pure functions.

Makes the WAL archiving settings of the postgres container (archive_command with
Barman Cloud to S3, archive_timeout from the stack) and the environment of the
backup-job container (schedule, destinations, retention). It creates no resource
and does not load the Pulumi SDK, so the operator tools use it inside the postgres
image too; components/workload/backup_job.py makes the job's ServiceSpec from it, and the
backup drill runs the very same archive_command.

S3 layout in the backups bucket:
  postgres/<stack>/<server>/base/<backup id>/...   base backups (barman-cloud-backup)
  postgres/<stack>/<server>/wals/<timeline..>/...  WAL segments (barman-cloud-wal-archive)
  postgres/<stack>/<server>.archive-status.json    archiving backlog after each archive_command call
                                                   (services/postgres/wal_archive_ahead.py)
  dumps/<stack>/<YYYYMMDDTHHMMSSZ>.dump            daily `pg_dump -Fc` of the CRM database
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the operator tools use this module without loading the Pulumi SDK
    from components.config import StackConfig

BARMAN_SERVER = "quintas-crm"
# The CRM's database, the role that owns it (Directus's) and the cluster's superuser,
# once: the postgres container creates the database and the superuser (POSTGRES_DB,
# POSTGRES_USER) and its init script the owner and the other roles
# (components/workload/db_roles.py). Here because this module loads no Pulumi SDK and
# imports no catalogue, so every one of those can import it without a cycle.
CRM_DATABASE = "quintas_crm"
CRM_DB_USER = "directus"
# Only the operator uses it: a restore verifies as it, since only it reads every schema
# (PostGIS's `tiger` and `topology` schemas too, which the owner role may not read).
SUPERUSER = "postgres"
# node-exporter's textfile collector directory inside the backup-job container.
TEXTFILE_DIR = "/var/lib/node-exporter/textfile"
METRICS_FILE = "quintas_backup.prom"
# barman-cloud-backup reads the data files itself: the job mounts the postgres data
# volume at the same path as the server.
PGDATA_MOUNT = "/var/lib/postgresql/data"
# WAL and base backups are gzip-compressed: the pinned barman (3.19, services/postgres/Dockerfile)
# has no snappy, lz4 or zstd library in the image, and gzip needs none. Measured in the backup
# drill: gzip makes a WAL segment about 4 times smaller for about 0.5 s of one core.
COMPRESSION = "--gzip"
# The bucket is a Pulumi Output, the server's settings plain strings: archive_command
# names the bucket through the container's BACKUPS_BUCKET variable, which the shell
# PostgreSQL runs archive_command with expands.
BUCKET_ENV = "BACKUPS_BUCKET"
BUCKET_FROM_ENV = "${" + BUCKET_ENV + "}"


def barman_root(stack: str) -> str:
    """The key prefix of one stack's base backups and WAL (barman-cloud-* servers live below it)."""
    return f"postgres/{stack}/"


def dumps_root(stack: str) -> str:
    """The key prefix of one stack's daily dumps."""
    return f"dumps/{stack}/"


def stack_prefixes(stack: str) -> tuple[str, str]:
    """Every key prefix one stack writes in the backups bucket: what its host may read, write and delete."""
    return barman_root(stack), dumps_root(stack)


@dataclass(frozen=True)
class BackupTarget:
    """Where one stack's backups live. `endpoint_url` is for S3-compatible servers (the drill)."""

    bucket: str
    stack: str
    server: str = BARMAN_SERVER
    endpoint_url: str | None = None

    @property
    def barman_url(self) -> str:
        return f"s3://{self.bucket}/{barman_root(self.stack).rstrip('/')}"

    @property
    def barman_prefix(self) -> str:
        """The key prefix barman writes under: `postgres/<stack>/<server>/`."""
        return f"{barman_root(self.stack)}{self.server}/"

    @property
    def archive_status_key(self) -> str:
        """Where archive_command (wal-archive-ahead) records how many ready segments are not archived yet."""
        return f"{barman_root(self.stack)}{self.server}.archive-status.json"

    @property
    def dumps_prefix(self) -> str:
        return dumps_root(self.stack)

    def cloud_options(self) -> list[str]:
        return ["--endpoint-url", self.endpoint_url] if self.endpoint_url else []


def _shell_words(words: list[str], target: BackupTarget) -> str:
    quoted = [shlex.quote(w) for w in words]
    if target.bucket == BUCKET_FROM_ENV:  # double quotes: the shell expands the variable
        url = f'"{target.barman_url}"'
    else:
        url = shlex.quote(target.barman_url)
    return " ".join([*quoted, url, shlex.quote(target.server)])


# Segments shipped at once by archive_command (wal-archive-ahead in the postgres image): one
# barman-cloud-wal-archive call costs about 2.5 s on the 2-core drill machine, so one at a time
# ships about 6 MB/s while a CRM bulk load writes more (benchmarks/backup_drill.py measures both).
ARCHIVE_PARALLEL = 4
# WAL segments barman-cloud-wal-restore fetches ahead while recovery replays (its --parallel):
# replay no longer waits one S3 round trip per segment.
RESTORE_PARALLEL = 8


def archive_command(target: BackupTarget) -> str:
    """The archive_command: the asked WAL segment, and up to ARCHIVE_PARALLEL - 1 ready ones after it,
    compressed to S3 at once; non-zero makes PostgreSQL retry."""
    words = ["wal-archive-ahead", str(ARCHIVE_PARALLEL), "barman-cloud-wal-archive", COMPRESSION]
    return _shell_words([*words, *target.cloud_options()], target) + " %p"


def restore_command(target: BackupTarget) -> str:
    """The restore_command of a recovering server: fetch %f from the archive into %p, and the
    next RESTORE_PARALLEL segments into a spool directory for the calls that follow."""
    words = ["barman-cloud-wal-restore", "--parallel", str(RESTORE_PARALLEL)]
    return _shell_words([*words, *target.cloud_options()], target) + " %f %p"


def retention_policy(recovery_window_days: int) -> str:
    if recovery_window_days < 1:
        raise ValueError(f"recovery window must be at least 1 day, got {recovery_window_days}")
    return f"RECOVERY WINDOW OF {recovery_window_days} DAYS"


def postgres_settings(*, archive_timeout_seconds: int, target: BackupTarget) -> dict[str, str]:
    """The server settings WAL archiving depends on, as `name -> value` strings.

    Memory and connection limits are the catalogue's (components/workload/catalogue.py), sized
    to the postgres container's memory limit; these merge over them.
    """
    if archive_timeout_seconds < 1:
        raise ValueError(f"archive_timeout must be at least 1 second, got {archive_timeout_seconds}")
    return {
        "wal_level": "replica",
        "archive_mode": "on",
        # A partly filled segment is shipped after this long: it bounds the data lost with the host.
        "archive_timeout": f"{archive_timeout_seconds}s",
        "archive_command": archive_command(target),
        "wal_compression": "on",
        "max_wal_size": "2GB",
        "checkpoint_timeout": "15min",
    }


def stack_postgres_settings(config: StackConfig, endpoint_url: str | None = None) -> dict[str, str]:
    """The postgres container's archiving settings; the bucket name comes from its BACKUPS_BUCKET variable."""
    return postgres_settings(
        archive_timeout_seconds=config.archive_timeout_seconds,
        target=BackupTarget(bucket=BUCKET_FROM_ENV, stack=config.stack, endpoint_url=endpoint_url),
    )


def backup_job_environment(
    *,
    target: BackupTarget,
    backup_time: str,
    time_zone: str,
    recovery_window_days: int,
    database: str = CRM_DATABASE,
    pg_host: str = "postgres",
    pg_user: str = CRM_DB_USER,
    textfile_dir: str = TEXTFILE_DIR,
) -> dict[str, str]:
    """The backup job's environment, read by services/postgres/backup_job.py (and libpq's PG* variables)."""
    env = {
        "PGHOST": pg_host,
        "PGUSER": pg_user,
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
