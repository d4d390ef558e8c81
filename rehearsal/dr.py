"""The rehearsal's `dr-end-to-end` check: the disaster-recovery runbook, from a lost data volume to a healthy CMS.

On the rehearsed stack, with the smaller CRM data set of the backup drill (lots with
PostGIS boundaries and a GiST index, clients, sales, payments; base rows, then batches
only WAL carries):
  1. the database is lost: SIGKILL of the postgres container, its data volume deleted
     (Directus and the backup job go with the host);
  2. runbook step 2, a new host from the stack: postgres initialises an empty database on
     a new volume, whose WAL the archive_command refuses to put in the lost database's
     prefix; it is stopped and its data directory moved aside;
  3. runbook step 3: the restore command block of docs/runbooks/disaster-recovery.md, run
     as written there, only the host's paths, network and bucket swapped for the rehearsal's;
  4. runbook step 4: postgres started on the restored data, then Directus, until its
     /server/health says ok; then the backup job's base backup on the new timeline.
Every CRM table's row count and checksum and the spatial query over the GiST index must
equal the values before the loss. The times: restore start -> CMS healthy (`rto_cms_s`,
beside the drill's database-only `rto_db_s`), and loss -> CMS healthy.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks import drill_data
from components.backups import SUPERUSER, BackupTarget
from components.workload.catalogue import DB_NAME
from ops.local import compose
from rehearsal.checks import CheckFailed, poll
from rehearsal.data import psql, switch_and_wait_archived
from rehearsal.stack import PROJECT, PROJECT_LABEL, REPO, Stack, run

RUNBOOK = REPO / "docs" / "runbooks" / "disaster-recovery.md"
DATA_MB = 40  # the smaller data set: about 23 000 lots with their clients, sales and payments
BATCHES = 2  # transactions of new lots and changes after the base rows: only WAL brings them back
BATCH_LOTS = 2_000
VOLUME = "data-postgres"
HOST_DATA = "/srv/data"  # the runbook's host directory; the postgres volume is its postgres/ subdirectory
IMAGE_LINE = "IMAGE=$(sudo docker inspect --format '{{.Config.Image}}' postgres)"


class RehearsedPostgres:
    """drill_data's Server: SQL as the operator, over the postgres container's local socket."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack

    def psql(self, sql: str, database: str = "postgres", timeout: float = 1800) -> str:
        return psql(self.stack, sql, database=database, timeout=timeout)


def runbook_restore_block(path: Path = RUNBOOK) -> list[str]:
    """The commands of the runbook's step 3 block (the one running `ops.cli.backup restore`), continuations joined."""
    blocks = re.findall(r"```bash\n(.*?)```", path.read_text(), flags=re.S)
    found = [b for b in blocks if "ops.cli.backup restore" in b and "--to latest" in b]
    if len(found) != 1:
        raise CheckFailed(f"{path.name} has {len(found)} bash blocks with `ops.cli.backup restore --to latest`, not 1")
    return [line.strip() for line in found[0].replace("\\\n", " ").splitlines() if line.strip()]


def _swap(argv: list[str], old: str, new: str) -> None:
    if old not in argv:
        raise CheckFailed(f"the runbook's restore command has no `{old}` any more: update rehearsal/dr.py with it")
    argv[argv.index(old)] = new


def rehearsal_restore_argv(lines: list[str], local: LocalHost) -> list[str]:
    """The runbook's step 3, with the rehearsal's image, paths, network, bucket and local S3 in place of the host's."""
    if len(lines) != 2 or lines[0].split("#")[0].strip() != IMAGE_LINE:
        raise CheckFailed(f"the runbook's restore block is not `{IMAGE_LINE}` and one docker run: {lines}")
    argv = shlex.split(lines[1], comments=True)
    if argv[:3] != ["sudo", "docker", "run"]:
        raise CheckFailed(f"the runbook's restore command does not start with `sudo docker run`: {argv[:3]}")
    argv = argv[1:]
    _swap(argv, "host", "egress")  # the network of the local S3 server
    _swap(argv, f"{HOST_DATA}:{HOST_DATA}", f"{local.scratch}:{HOST_DATA}")
    _swap(argv, "/opt/quintas-infra:/ops:ro", f"{REPO}:/ops:ro")
    _swap(argv, "$IMAGE", local.image)
    _swap(argv, "<backupsBucket>", local.bucket)
    _swap(argv, "prod", local.stack)  # --stack prod
    # The instance role is the local S3 server and its credentials here; the data volume is the host's /srv/data/postgres.
    added = ["-v", f"{local.volume}:{HOST_DATA}/postgres", "-v", f"{local.credentials}:/run/secrets/aws_credentials:ro"]
    added += [
        "-e",
        f"AWS_ENDPOINT_URL={compose.LOCAL_AWS_URL}",
        "-e",
        "AWS_SHARED_CREDENTIALS_FILE=/run/secrets/aws_credentials",
    ]
    added += ["--label", f"{PROJECT_LABEL}={PROJECT}"]
    return argv[:2] + added + argv[2:]


@dataclass(frozen=True)
class LocalHost:
    """What the rehearsal has in place of the host's: the stack, its bucket, image, data volume, scratch /srv/data."""

    stack: str
    bucket: str
    image: str
    volume: str
    credentials: Path
    scratch: Path


def _volume(stack: Stack) -> str:
    names = run(
        ["docker", "volume", "ls", "-q", "--filter", f"label={PROJECT_LABEL}={PROJECT}"]
        + ["--filter", f"label=com.docker.compose.volume={VOLUME}"]
    ).split()
    if len(names) != 1:
        raise CheckFailed(f"expected one {VOLUME} volume of the project, found {names}")
    return names[0]


def _in_volume(stack: Stack, image: str, script: str) -> None:
    """A shell command on the postgres volume, mounted where the host has it (the runbook's paths)."""
    run(
        [
            "docker",
            "run",
            "--rm",
            "-v",
            f"{_volume(stack)}:{HOST_DATA}/postgres",
            "--entrypoint",
            "sh",
            image,
            "-c",
            script,
        ]
    )


def _load(db: RehearsedPostgres) -> None:
    """The base rows, then batches after the last base backup of the stack: WAL replay brings those back."""
    drill_data.load(db, DB_NAME, DATA_MB, progress=lambda _line: None)
    base = drill_data.lots_for(DATA_MB)
    for n in range(1, BATCHES + 1):
        drill_data.write_batch(db, DB_NAME, n, base, base + 1 + (n - 1) * BATCH_LOTS, BATCH_LOTS)


def _lose_the_database(stack: Stack) -> None:
    run(["docker", "kill", "-s", "KILL", stack.container("postgres")])
    stack.compose("stop", "-t", "5", "directus", "backup")
    stack.compose("rm", "-f", "postgres", "backup")
    run(["docker", "volume", "rm", _volume(stack)])


def _new_empty_database_refused(stack: Stack) -> str:
    """Step 2: the new host's postgres initialises an empty database; its WAL must not reach the old prefix."""
    stack.compose("up", "-d", "--no-deps", "postgres", "backup")
    # On 127.0.0.1: the image's entrypoint initialises with a server on its socket only, then starts the real one.
    poll("the new host's postgres accepting connections", 180, 1, lambda: _accepting(stack))
    psql(stack, "SELECT pg_switch_wal()")

    def refused() -> str | None:
        failed = psql(stack, "SELECT failed_count FROM pg_stat_archiver")
        return failed if int(failed) > 0 else None

    poll("the empty database's archive_command refused", 60, 1, refused)
    logs = subprocess.run(["docker", "logs", stack.container("postgres")], capture_output=True, text=True, timeout=60)
    stack.compose("stop", "-t", "30", "postgres", "backup")
    if "REFUSED" not in logs.stdout + logs.stderr:
        raise CheckFailed("the empty database's archive_command failed, but not with wal-archive-ahead's REFUSED")
    return "refused by wal-archive-ahead"


def _accepting(stack: Stack) -> bool:
    probe = ["pg_isready", "-q", "-h", "127.0.0.1", "-U", SUPERUSER, "-d", DB_NAME]
    return subprocess.run(["docker", "exec", stack.container("postgres"), *probe], check=False).returncode == 0


def _cms_healthy(stack: Stack) -> str | None:
    out = stack.exec("directus", "wget", "-q", "-O", "-", "http://127.0.0.1:8055/server/health", check=False)
    return out if json.loads(out or "{}").get("status") == "ok" else None


def dr_end_to_end(stack: Stack, target: BackupTarget, times: dict[str, float]) -> str:
    """The runbook from a lost data volume to a healthy CMS; puts the measured seconds in `times`."""
    db = RehearsedPostgres(stack)
    image = stack.inspect(stack.container("postgres"))["Config"]["Image"]
    lines = runbook_restore_block()  # read first: a runbook the check cannot follow fails before anything is lost
    _load(db)
    before = drill_data.snapshot(db, DB_NAME) | {"rehearsal_rows": psql(stack, "SELECT count(*) FROM rehearsal_rows")}
    switch_and_wait_archived(stack)
    lost = time.monotonic()
    _lose_the_database(stack)
    refusal = _new_empty_database_refused(stack)
    _in_volume(stack, image, f"mv {HOST_DATA}/postgres/pgdata {HOST_DATA}/postgres/pgdata-empty-init")
    with tempfile.TemporaryDirectory(prefix="dr-end-to-end-") as scratch:
        Path(scratch).chmod(0o755)  # as the host's /srv/data: the restore's postgres user passes through it
        credentials = stack.root / compose.SECRETS_DIR / compose.AWS_CREDENTIALS
        local = LocalHost(stack.config.stack, target.bucket, image, _volume(stack), credentials, Path(scratch))
        argv = rehearsal_restore_argv(lines, local)
        restore_began = time.monotonic()
        run(argv, timeout=900)
        report = json.loads((Path(scratch) / "restore-report.json").read_text())
    restored = time.monotonic()
    stack.compose("start", "postgres")
    # Accepting connections, asked every second: the engine's health status would add up to its 15 s interval.
    poll("the restored postgres accepting connections", 180, 1, lambda: _accepting(stack))
    stack.compose("start", "directus")
    poll("Directus /server/health ok after the restore", 240, 1, lambda: _cms_healthy(stack))
    healthy = time.monotonic()
    after = drill_data.snapshot(db, DB_NAME) | {"rehearsal_rows": psql(stack, "SELECT count(*) FROM rehearsal_rows")}
    different = {k: (before[k], after.get(k)) for k in before if before[k] != after.get(k)}
    if different:
        raise CheckFailed(f"after the restore (before, after): {different}")
    stack.compose("start", "backup")
    stack.exec("backup", "backup-job", "run", timeout=600)
    timeline = psql(stack, "SELECT timeline_id FROM pg_control_checkpoint()")
    times |= {
        "rto_cms_s": round(healthy - restore_began, 1),
        "restore_s": round(restored - restore_began, 1),
        "loss_to_cms_s": round(healthy - lost, 1),
    }
    detail = (
        f"volume lost and restored by the runbook's command: base backup {report.get('backup_id')}, "
        f"{len(before)} values equal ({', '.join(k for k in before if k.startswith('rows'))}, checksums, "
        f"the GiST spatial query, rehearsal_rows); new empty database's archiving {refusal}; "
        f"restore {times['restore_s']} s, restore start -> /server/health ok {times['rto_cms_s']} s, "
        f"loss -> ok {times['loss_to_cms_s']} s; base backup on timeline {timeline}"
    )
    return detail
