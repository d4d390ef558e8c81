"""The PostgreSQL roles of the stack's database: the superuser, and one role per client.

No client uses the superuser: Directus owns the CRM database through its own role
(no superuser, no CREATEROLE), postgres-exporter reads statistics as a member of
`pg_monitor` only, and the backup job has just what Barman Cloud's base backups
(pg_backup_start/stop, pg_switch_wal, pg_create_restore_point, pg_checkpoint,
pg_read_all_settings, pg_read_all_stats: Barman's documented grants, the last two through
`pg_monitor`, which also lets it read pg_ls_archive_statusdir() for the archiving backlog
metric) and `pg_dump` (pg_read_all_data) need. The postgres image creates the roles on
a new data directory (services/postgres/initdb-roles.sh), with passwords read from the
secret files named here; nothing here creates a resource.
"""

from __future__ import annotations

from dataclasses import dataclass

from components.backups import CRM_DB_USER


@dataclass(frozen=True)
class DbRole:
    name: str  # the role's name in PostgreSQL
    secret: str  # the generated password's name (components/workload/secrets.py)
    variable: str  # the postgres container's variable prefix: <variable>_USER, <variable>_PASSWORD_FILE


DIRECTUS = DbRole(CRM_DB_USER, "directus_db_password", "DIRECTUS_DB")
EXPORTER = DbRole("postgres_exporter", "exporter_db_password", "EXPORTER_DB")
BACKUP = DbRole("backup", "backup_db_password", "BACKUP_DB")
ROLES = (DIRECTUS, EXPORTER, BACKUP)
