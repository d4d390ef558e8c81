"""Checks that a stack's backups are fresh, read from the backups bucket with boto3.

- the newest base backup finished (backup.info status DONE) less than 26 hours ago;
- a WAL segment arrived within the last 3 x archive_timeout;
- the newest dump exists and is not empty;
- archiving is not behind: the archive_command's last status (written to the bucket
  by wal-archive-ahead after each call) counts at most BACKLOG_LIMIT_SEGMENTS
  segments that PostgreSQL has finished but that are not in the bucket yet.
Each check gives one line; any failure makes the exit code 1.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from components.backups import BackupTarget

BASE_MAX_AGE = dt.timedelta(hours=26)
# archive_command ships up to 4 segments at once (components.backups.ARCHIVE_PARALLEL):
# more ready ones than that means archiving is falling behind the WAL written.
BACKLOG_LIMIT_SEGMENTS = 4
SEGMENT_BYTES = 16 * 2**20


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'}  {self.name}: {self.detail}"


def _age(now: dt.datetime, then: dt.datetime) -> str:
    seconds = int((now - then).total_seconds())
    if seconds < 120:
        return f"{seconds}s ago"
    if seconds < 7200:
        return f"{seconds // 60}min ago"
    return f"{seconds / 3600:.1f}h ago"


def _objects(s3: Any, bucket: str, prefix: str, delimiter: str | None = None) -> tuple[list[dict[str, Any]], list[str]]:
    objects: list[dict[str, Any]] = []
    folders: list[str] = []
    kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
    if delimiter:
        kwargs["Delimiter"] = delimiter
    for page in s3.get_paginator("list_objects_v2").paginate(**kwargs):
        objects += page.get("Contents", [])
        folders += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
    return objects, folders


@dataclass(frozen=True)
class BaseBackup:
    backup_id: str
    status: str
    end_time: dt.datetime | None
    uploaded: dt.datetime


def _end_time(value: str | None) -> dt.datetime | None:
    """backup.info's end_time, e.g. `2026-11-28 02:00:41.123456+00:00` (with the server's offset)."""
    if not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo else None


def base_backups(s3: Any, target: BackupTarget) -> list[BaseBackup]:
    """Every base backup of the stack, read from its backup.info (end_time keeps its UTC offset)."""
    objects, _ = _objects(s3, target.bucket, target.barman_prefix + "base/")
    backups: list[BaseBackup] = []
    for info in (o for o in objects if o["Key"].endswith("/backup.info")):
        body = s3.get_object(Bucket=target.bucket, Key=info["Key"])["Body"].read().decode()
        fields = dict(line.split("=", 1) for line in body.splitlines() if "=" in line)
        backups.append(
            BaseBackup(
                info["Key"].split("/")[-2],
                fields.get("status", ""),
                _end_time(fields.get("end_time")),
                info["LastModified"],
            )
        )
    return backups


def check_base(s3: Any, target: BackupTarget, now: dt.datetime, max_age: dt.timedelta = BASE_MAX_AGE) -> Check:
    name = "newest base backup"
    done = [(b.end_time or b.uploaded, b.backup_id) for b in base_backups(s3, target) if b.status == "DONE"]
    if not done:
        return Check(name, False, f"none finished under s3://{target.bucket}/{target.barman_prefix}base/")
    when, backup_id = max(done)
    ok = now - when < max_age
    limit = f"limit {max_age.total_seconds() / 3600:.0f}h"
    return Check(name, ok, f"{backup_id} finished {_age(now, when)} ({limit}; {len(done)} finished in all)")


def check_wal(s3: Any, target: BackupTarget, now: dt.datetime, archive_timeout: int) -> Check:
    name = "WAL archiving"
    limit = dt.timedelta(seconds=3 * archive_timeout)
    _, folders = _objects(s3, target.bucket, target.barman_prefix + "wals/", "/")
    if not folders:
        return Check(name, False, f"no WAL under s3://{target.bucket}/{target.barman_prefix}wals/")
    # Folders are <timeline><log> in hex: the greatest holds the newest segments.
    objects, _ = _objects(s3, target.bucket, max(folders))
    if not objects:
        return Check(name, False, f"the newest WAL folder {max(folders)} is empty")
    newest = max(objects, key=lambda o: o["LastModified"])
    ok = now - newest["LastModified"] <= limit
    segment = newest["Key"].rsplit("/", 1)[-1]
    return Check(
        name, ok, f"last segment {segment} arrived {_age(now, newest['LastModified'])} (limit {limit.seconds}s)"
    )


def check_dump(s3: Any, target: BackupTarget, now: dt.datetime) -> Check:
    name = "newest dump"
    objects, _ = _objects(s3, target.bucket, target.dumps_prefix)
    dumps = [o for o in objects if o["Key"].endswith(".dump")]
    if not dumps:
        return Check(name, False, f"no dump under s3://{target.bucket}/{target.dumps_prefix}")
    newest = max(dumps, key=lambda o: o["Key"])
    detail = f"{newest['Key']}, {newest['Size']} bytes, written {_age(now, newest['LastModified'])}"
    return Check(name, newest["Size"] > 0, detail if newest["Size"] > 0 else detail + ": EMPTY")


def check_backlog(s3: Any, target: BackupTarget, now: dt.datetime) -> Check:
    from botocore.exceptions import ClientError

    name = "WAL archiving backlog"
    where = f"s3://{target.bucket}/{target.archive_status_key}"
    try:
        status = json.loads(s3.get_object(Bucket=target.bucket, Key=target.archive_status_key)["Body"].read())
        at = dt.datetime.fromtimestamp(float(status["at"]), dt.UTC)
        ready = int(status["ready_segments"])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("NoSuchKey", "404"):
            raise
        return Check(name, False, f"no {where}: archive_command (wal-archive-ahead) has not reported")
    except (KeyError, ValueError, TypeError) as exc:
        return Check(name, False, f"{where} is not a status wal-archive-ahead writes: {exc!r}")
    behind = f"{ready} segment(s), {ready * SEGMENT_BYTES / 2**20:.0f} MB finished but not archived"
    oldest = f", oldest {status['oldest_ready']}" if status.get("oldest_ready") else ""
    detail = f"{behind}{oldest} at the last archive_command call, {_age(now, at)} (limit {BACKLOG_LIMIT_SEGMENTS})"
    return Check(name, ready <= BACKLOG_LIMIT_SEGMENTS, detail)


def run_checks(s3: Any, target: BackupTarget, archive_timeout: int, now: dt.datetime | None = None) -> list[Check]:
    moment = now or dt.datetime.now(dt.UTC)
    return [
        check_base(s3, target, moment),
        check_wal(s3, target, moment, archive_timeout),
        check_dump(s3, target, moment),
        check_backlog(s3, target, moment),
    ]
