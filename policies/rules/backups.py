"""Backup rules on the container stack: PostgreSQL archives WAL with Barman Cloud,
archive_timeout is within the RPO, a backup job runs daily, and the recovery window
it keeps is at least the stack's minimum.

The postgres settings are read from the container's command (`-c name=value`) and
from any `*.conf` file uploaded into it. When part of them is unknown at preview,
a missing setting is not reported.
"""

from __future__ import annotations

import re
from typing import Any

from pulumi_policy import PolicyResource, Severity, StackValidationArgs

from .base import Report, Rule, get, is_unknown, items, of_type, walk_strings
from .containers import CONTAINER, container_is, envs

SETTING = re.compile(r"^\s*([a-z_]+)\s*=\s*'?([^'#\n]*)'?", re.M)
DURATION = re.compile(r"^\s*(\d+)\s*(ms|s|min|h|d)?\s*$")
UNIT_SECONDS = {"ms": 0.001, "s": 1, "min": 60, "h": 3600, "d": 86400, None: 1}
SCHEDULE_NAME = re.compile(r"SCHEDULE|CRON|BACKUP_TIME|BACKUP_AT")
WINDOW_NAME = re.compile(r"RECOVERY_WINDOW|RETENTION")
WINDOW_TEXT = re.compile(r"(?i)RECOVERY\s+WINDOW\s+OF\s+(\d+)\s+DAYS?")

POSTGRES_SCHEMA = {"type": "string", "default": "postgres", "description": "the PostgreSQL container's name"}
BACKUP_JOB_SCHEMA = {"type": "string", "default": "backup", "description": "a word of the backup job container's name"}


def postgres_settings(container: PolicyResource) -> tuple[dict[str, str], bool]:
    """The settings the container starts postgres with, and whether all of them were known."""
    settings: dict[str, str] = {}
    complete = True
    command = get(container.props, "command")
    args = items(container.props, "command") if not is_unknown(command) else []
    complete = not is_unknown(command) and not any(is_unknown(a) for a in args)
    for i, arg in enumerate(args):
        if not isinstance(arg, str):
            continue
        if arg == "-c" and i + 1 < len(args) and isinstance(args[i + 1], str):
            key, _, value = args[i + 1].partition("=")
            settings[key.strip()] = value.strip()
        elif arg.startswith("--") and "=" in arg:
            key, _, value = arg[2:].partition("=")
            settings[key.replace("-", "_")] = value
    for upload in items(container.props, "uploads"):
        path, content = get(upload, "file"), get(upload, "content")
        if is_unknown(content) or is_unknown(path):
            complete = False
        elif isinstance(path, str) and path.endswith(".conf") and isinstance(content, str):
            for key, value in SETTING.findall(content):
                settings.setdefault(key, value.strip())
    return settings, complete


def seconds(value: str) -> float | None:
    match = DURATION.match(value)
    return int(match.group(1)) * UNIT_SECONDS[match.group(2)] if match else None


def _postgres(args: StackValidationArgs, name: str) -> list[PolicyResource]:
    found = [c for c in of_type(args, *CONTAINER) if container_is(c, name)]
    if not found:
        args.not_applicable(f"no container named {name!r} in this stack: nothing to back up yet")
    return found


def _backup_jobs(args: StackValidationArgs, word: str) -> list[PolicyResource]:
    def words(c: PolicyResource) -> set[str]:
        names = [c.name, get(c.props, "name")]
        return {w for n in names if isinstance(n, str) for w in re.split(r"[^a-z0-9]+", n.lower())}

    return [c for c in of_type(args, *CONTAINER) if word in words(c)]


def _wal_archiving(args: StackValidationArgs, report: Report) -> None:
    config = args.get_config()
    for pg in _postgres(args, config["postgresContainer"]):
        settings, complete = postgres_settings(pg)
        mode, command = settings.get("archive_mode"), settings.get("archive_command")
        if mode not in ("on", "always") and (mode is not None or complete):
            report(f"container {pg.name!r}: archive_mode is {mode or 'not set (off)'}; WAL is not archived", pg.urn)
        if command is not None and config["archiveCommand"] not in command:
            report(f"container {pg.name!r}: archive_command does not run {config['archiveCommand']}", pg.urn)
        elif command is None and complete:
            report(f"container {pg.name!r}: no archive_command", pg.urn)
        if settings.get("wal_level") == "minimal":
            report(f"container {pg.name!r}: wal_level is minimal, which cannot be archived", pg.urn)


def _archive_timeout(args: StackValidationArgs, report: Report) -> None:
    config = args.get_config()
    rpo = config["rpoSeconds"]
    for pg in _postgres(args, config["postgresContainer"]):
        settings, complete = postgres_settings(pg)
        raw = settings.get("archive_timeout")
        if raw is None:
            if complete:
                report(
                    f"container {pg.name!r}: archive_timeout is not set, so a quiet database may not archive WAL for hours (RPO {rpo} s)",
                    pg.urn,
                )
            continue
        value = seconds(raw)
        shipping = config["archiveShippingSeconds"]
        if value is None or value <= 0 or value > rpo - shipping:
            report(
                f"container {pg.name!r}: archive_timeout is {raw!r}, above the RPO of {rpo} s "
                f"less {shipping} s for the closed segment to reach S3",
                pg.urn,
            )


def is_daily(value: str) -> bool:
    value = value.strip()
    if re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value) or value in ("@daily", "@midnight"):
        return True
    fields = value.split()
    return len(fields) == 5 and all(f.isdigit() for f in fields[:2]) and fields[2:] == ["*", "*", "*"]


def _daily_backup(args: StackValidationArgs, report: Report) -> None:
    config = args.get_config()
    _postgres(args, config["postgresContainer"])
    jobs = _backup_jobs(args, config["backupJobContainer"])
    schedules = [(n, v) for job in jobs for n, v in envs(job.props) if SCHEDULE_NAME.search(n.upper()) or is_unknown(v)]
    if any(is_unknown(v) or (isinstance(v, str) and is_daily(v)) for _, v in schedules):
        return
    if not jobs:
        report(f"no backup job container (a name with {config['backupJobContainer']!r}) runs the daily base backup")
    else:
        shown = ", ".join(f"{n}={v}" for n, v in schedules) or "no schedule variable"
        report(f"backup job {jobs[0].name!r} is not scheduled daily ({shown})", jobs[0].urn)


def recovery_windows(job: PolicyResource) -> tuple[list[int], bool]:
    days: list[int] = []
    unknown = False
    for name, value in envs(job.props):
        if is_unknown(value):
            unknown = True
        elif WINDOW_NAME.search(name.upper()) and isinstance(value, str):
            found = WINDOW_TEXT.search(value) or re.match(r"^\s*(\d+)\s*(d|days?)?\s*$", value, re.I)
            if found:
                days.append(int(found.group(1)))
    for text in walk_strings(get(job.props, "command")):
        found = WINDOW_TEXT.search(text)
        if found:
            days.append(int(found.group(1)))
    return days, unknown


def _retention(args: StackValidationArgs, report: Report) -> None:
    config = args.get_config()
    minimum = config["minRecoveryWindowDays"]
    _postgres(args, config["postgresContainer"])
    for job in _backup_jobs(args, config["backupJobContainer"]):
        days, unknown = recovery_windows(job)
        if not days and not unknown:
            report(
                f"backup job {job.name!r} sets no recovery window (RECOVERY_WINDOW...), so old backups are kept or deleted unchecked",
                job.urn,
            )
        for d in days:
            if d < minimum:
                report(
                    f"backup job {job.name!r} keeps a recovery window of {d} days, below the minimum of {minimum}",
                    job.urn,
                )


COMMON: dict[str, Any] = {"postgresContainer": POSTGRES_SCHEMA}

RULES = [
    Rule(
        name="backups-wal-archiving",
        references=("project rule: PostgreSQL's settings inside a container are outside every IaC scanner's view",),
        description="PostgreSQL runs with archive_mode=on and an archive_command that calls barman-cloud-wal-archive.",
        why="Without continuous WAL archiving the last base backup, up to a day old, is the best restore.",
        severity=Severity.CRITICAL,
        check=_wal_archiving,
        kind="stack",
        config={
            **COMMON,
            "archiveCommand": {
                "type": "string",
                "default": "barman-cloud-wal-archive",
                "description": "program the archive_command runs",
            },
        },
    ),
    Rule(
        name="backups-archive-timeout-within-rpo",
        references=(
            "project rule: checks this project's RPO goal against PostgreSQL's settings, which no scanner reads",
        ),
        description="PostgreSQL's archive_timeout is set and at most the RPO from config less the time to ship a segment.",
        why=(
            "archive_timeout bounds how long a committed transaction can wait before its WAL segment is closed; "
            "the closed segment then still has to reach S3."
        ),
        severity=Severity.HIGH,
        check=_archive_timeout,
        kind="stack",
        config={
            **COMMON,
            "rpoSeconds": {"type": "integer", "minimum": 1, "default": 60, "description": "recovery point objective"},
            "archiveShippingSeconds": {
                "type": "integer",
                "minimum": 0,
                "default": 10,
                "description": "time allowed for a closed WAL segment to reach S3",
            },
        },
    ),
    Rule(
        name="backups-daily-base-backup",
        references=("project rule: the backup job is a container of this project; no framework describes it",),
        description="A backup job container is scheduled daily (a schedule variable in its environment).",
        why="PITR replays WAL from the last base backup: a daily base backup keeps restore time and WAL storage bounded.",
        severity=Severity.HIGH,
        check=_daily_backup,
        kind="stack",
        config={**COMMON, "backupJobContainer": BACKUP_JOB_SCHEMA},
    ),
    Rule(
        name="backups-recovery-window",
        references=("project rule: the minimum window is this project's (7 days staging, 30 prod)",),
        description="The backup job keeps a recovery window of at least the stack's minimum (7 days staging, 30 prod).",
        why="Data damage is often found days later; the window is how far back a restore can go.",
        severity=Severity.HIGH,
        check=_retention,
        kind="stack",
        config={
            **COMMON,
            "backupJobContainer": BACKUP_JOB_SCHEMA,
            "minRecoveryWindowDays": {
                "type": "integer",
                "minimum": 1,
                "default": 30,
                "description": "shortest allowed recovery window",
            },
        },
    ),
]
