"""The rehearsal's data-path checks: WAL archiving, the backup job, restore from S3, Directus uploads.

They run the stack's own commands (archive_command, `backup-job run`,
restore_command) against the local S3 API server; SQL runs inside the
containers with psql, HTTP to Directus from inside its container.
"""

from __future__ import annotations

import json

from components.backups import SUPERUSER, BackupTarget, restore_command
from components.workload.catalogue import DB_NAME
from components.workload.db_roles import BACKUP, DIRECTUS, EXPORTER
from rehearsal.checks import CheckFailed, aws, poll
from rehearsal.stack import PROJECT, PROJECT_LABEL, Stack, run


def psql(stack: Stack, sql: str, service: str = "postgres", database: str = DB_NAME, timeout: float = 120) -> str:
    """As the operator: the superuser over the container's local socket (no client uses it)."""
    argv = ["psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-U", SUPERUSER, "-d", database, "-c", sql]
    return stack.exec(service, *argv, timeout=timeout).strip()


# Each client's role: no attribute beyond LOGIN, and exactly these memberships.
ROLE_MEMBERSHIPS = {
    DIRECTUS.name: "",
    EXPORTER.name: "pg_monitor",
    BACKUP.name: "pg_checkpoint,pg_monitor,pg_read_all_data",
}
ROLES_SQL = """
SELECT r.rolname, r.rolsuper OR r.rolcreaterole OR r.rolcreatedb OR r.rolreplication OR r.rolbypassrls,
       coalesce(string_agg(g.rolname, ',' ORDER BY g.rolname), '')
FROM pg_roles r LEFT JOIN pg_auth_members m ON m.member = r.oid LEFT JOIN pg_roles g ON g.oid = m.roleid
WHERE r.rolname IN ({names}) GROUP BY r.rolname, 2 ORDER BY r.rolname
"""


def database_roles(stack: Stack) -> str:
    """Run after the data checks: each client has its own unprivileged role, and none is connected as superuser."""
    names = ", ".join(f"'{name}'" for name in ROLE_MEMBERSHIPS)
    got = {row.split("|")[0]: row.split("|")[1:] for row in psql(stack, ROLES_SQL.format(names=names)).splitlines()}
    want = {name: ["f", members] for name, members in ROLE_MEMBERSHIPS.items()}
    if got != want:
        raise CheckFailed(f"roles (name: [privileged attribute, memberships]) are {got}, expected {want}")
    owner = psql(stack, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()")
    tables = psql(stack, "SELECT tableowner, count(*) FROM pg_tables WHERE tablename LIKE 'directus\\_%' GROUP BY 1")
    if owner != DIRECTUS.name or tables.split("|")[0] != DIRECTUS.name or "\n" in tables:
        raise CheckFailed(f"{DB_NAME} is owned by {owner}; Directus's tables by {tables or 'nobody'}")
    clients = psql(
        stack,
        "SELECT string_agg(DISTINCT usename, ',') FROM pg_stat_activity "
        "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
    )
    if SUPERUSER in clients.split(","):
        raise CheckFailed(f"a client is connected as the superuser {SUPERUSER} (connected roles: {clients})")
    roles = ", ".join(f"{name} [{members or 'no membership'}]" for name, members in ROLE_MEMBERSHIPS.items())
    return (
        f"{roles}, none privileged; "
        f"{DB_NAME} and its {tables.split('|')[1]} directus_* tables owned by {owner}; connected: {clients}"
    )


def wal_archived(stack: Stack, target: BackupTarget) -> str:
    """Rows written, the segment closed: the stack's own archive_command puts it in S3."""
    psql(stack, "CREATE TABLE IF NOT EXISTS rehearsal_rows (id int primary key, note text)")
    psql(
        stack, "INSERT INTO rehearsal_rows SELECT g, 'row ' || g FROM generate_series(1, 1000) g ON CONFLICT DO NOTHING"
    )
    segment = switch_and_wait_archived(stack)
    prefix = target.barman_prefix + "wals/"
    keys = [o["Key"] for o in aws(stack, "s3").list_objects_v2(Bucket=target.bucket, Prefix=prefix).get("Contents", [])]
    hits = [k for k in keys if segment in k]
    if not hits:
        raise CheckFailed(f"PostgreSQL reports {segment} archived, but s3://{target.bucket}/{prefix} has {keys[:5]}")
    return f"segment {segment} archived by the stack's archive_command to s3://{target.bucket}/{hits[0]}"


def backup_job(stack: Stack, target: BackupTarget) -> str:
    stack.exec("backup", "backup-job", "run", timeout=600)
    s3 = aws(stack, "s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=target.bucket).get("Contents", [])]
    base = [k for k in keys if k.startswith(target.barman_prefix) and k.endswith("backup.info")]
    dumps = [k for k in keys if k.startswith(target.dumps_prefix)]
    if not base or not dumps:
        raise CheckFailed(f"after `backup-job run`: base backups {base}, dumps {dumps}")
    return f"base backup {base[-1]} and dump {dumps[-1]}"


def switch_and_wait_archived(stack: Stack, timeout: float = 90) -> str:
    """Close the current WAL segment and wait until archive_command has shipped it; its name."""
    segment = psql(stack, "SELECT pg_walfile_name(pg_current_wal_lsn())")
    psql(stack, "SELECT pg_switch_wal()")

    def shipped() -> bool:
        last, failed = psql(stack, "SELECT coalesce(last_archived_wal, ''), failed_count FROM pg_stat_archiver").split(
            "|"
        )
        # Segment names are fixed-width hex: on one timeline, later sorts after.
        if last < segment:
            raise ValueError(f"last archived {last or 'none'}, {failed} failures")
        return True

    poll(f"WAL segment {segment} archived", timeout, 1, shipped)
    return segment


RESTORE_SCRIPT = r"""set -eu
mkdir -p "$PGDATA" && chown -R postgres:postgres "$(dirname "$PGDATA")" && chmod 700 "$PGDATA"
runuser -u postgres -- barman-cloud-restore "$BARMAN_URL" "$BARMAN_SERVER" latest "$PGDATA"
printf "restore_command = '%s'\nrecovery_target_action = 'promote'\n" "$RESTORE_COMMAND" >> "$PGDATA/postgresql.auto.conf"
runuser -u postgres -- touch "$PGDATA/recovery.signal"
exec runuser -u postgres -- postgres -c archive_mode=off -c listen_addresses=''
"""


def restore_from_s3(stack: Stack, target: BackupTarget) -> str:
    """A fresh postgres container on an empty volume restores from S3 only and has the rows."""
    image = stack.inspect(stack.container("postgres"))["Config"]["Image"]
    # A row written after the base backup: it can only come back through WAL replay.
    psql(stack, "INSERT INTO rehearsal_rows VALUES (1000001, 'after the base backup') ON CONFLICT DO NOTHING")
    expected = psql(stack, "SELECT count(*) FROM rehearsal_rows")
    switch_and_wait_archived(stack)
    name = f"{PROJECT}-restore"
    env = {
        "PGDATA": "/var/lib/postgresql/data/pgdata",
        "BARMAN_URL": target.barman_url,
        "BARMAN_SERVER": target.server,
        "RESTORE_COMMAND": restore_command(target),
        "AWS_ENDPOINT_URL": "http://aws-local:5000",
        "AWS_SHARED_CREDENTIALS_FILE": "/run/secrets/aws_credentials",
    }
    credentials = stack.root / "local/secrets/aws_credentials"
    argv = ["docker", "run", "-d", "--name", name, "--label", f"{PROJECT_LABEL}={PROJECT}", "--network", "egress"]
    argv += ["-v", f"{credentials}:/run/secrets/aws_credentials:ro", "--entrypoint", "bash"]
    for key, value in env.items():
        argv += ["-e", f"{key}={value}"]
    run([*argv, image, "-c", RESTORE_SCRIPT])
    try:
        query = "SELECT pg_is_in_recovery(), count(*) FROM rehearsal_rows"
        sql = ["docker", "exec", "-u", "postgres", name, "psql", "-X", "-A", "-t", "-U", SUPERUSER, "-d", DB_NAME, "-c"]

        def promoted() -> str | None:
            out = run([*sql, query], check=False).strip()
            return out if out.startswith("f|") else None

        state = poll("the restored server promoted", 240, 2, promoted)
        if state != f"f|{expected}":
            raise CheckFailed(f"restored rehearsal_rows: {state.split('|')[1]} rows, expected {expected}")
        postgis = run([*sql, "SELECT postgis_lib_version()"]).strip()
        return (
            f"empty volume restored from s3://{target.bucket}/{target.barman_prefix} only: "
            f"{expected} rows (the last one by WAL replay), PostGIS {postgis}"
        )
    except CheckFailed as exc:
        tail = run(["docker", "logs", "--tail", "5", name], check=False)
        raise CheckFailed(f"{exc}; restore log: {tail.strip()[-300:]}") from exc
    finally:
        run(["docker", "rm", "-f", "-v", name], check=False)


DIRECTUS_SCRIPT = r"""
const base = 'http://127.0.0.1:8055';
const password = require('fs').readFileSync(process.env.ADMIN_PASSWORD_FILE, 'utf8').trim();
(async () => {
  const health = await (await fetch(base + '/server/health')).json();
  if (health.status !== 'ok') throw new Error('health ' + JSON.stringify(health));
  const login = await fetch(base + '/auth/login', {method: 'POST', headers: {'content-type': 'application/json'},
    body: JSON.stringify({email: process.env.ADMIN_EMAIL, password})});
  if (!login.ok) throw new Error('login ' + login.status + ' ' + await login.text());
  const auth = {authorization: 'Bearer ' + (await login.json()).data.access_token};
  const content = 'rehearsal upload ' + Date.now();
  const body = new FormData();
  body.append('file', new Blob([content], {type: 'text/plain'}), 'rehearsal.txt');
  const upload = await fetch(base + '/files', {method: 'POST', headers: auth, body});
  if (!upload.ok) throw new Error('upload ' + upload.status + ' ' + await upload.text());
  const file = (await upload.json()).data;
  const back = await (await fetch(base + '/assets/' + file.id, {headers: auth})).text();
  if (back !== content) throw new Error('read back ' + JSON.stringify(back));
  console.log(JSON.stringify({health: health.status, disk: file.filename_disk, storage: file.storage}));
})().catch(e => { console.error(e.message); process.exit(1); });
"""


def directus_health(stack: Stack) -> str:
    """/server/health is ok against the stand-ins, and an upload goes to S3 and back."""
    result = json.loads(stack.exec("directus", "node", "-e", DIRECTUS_SCRIPT).strip().splitlines()[-1])
    bucket = str(stack.specs["directus"].env["STORAGE_S3_BUCKET"])
    keys = [o["Key"] for o in aws(stack, "s3").list_objects_v2(Bucket=bucket).get("Contents", [])]
    if not any(k.endswith(result["disk"]) for k in keys):
        raise CheckFailed(f"upload {result['disk']} is not in s3://{bucket} (keys: {keys[:5]})")
    return f"/server/health {result['health']}; upload {result['disk']} written to s3://{bucket} and read back"
