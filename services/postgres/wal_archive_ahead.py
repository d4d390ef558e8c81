#!/opt/barman/bin/python3
"""archive_command wrapper: ships the asked segment and the next ready ones in parallel.

    wal-archive-ahead N barman-cloud-wal-archive [options] URL SERVER %p

PostgreSQL's archiver ships one segment per archive_command call, one call at a
time; one barman-cloud-wal-archive call costs a process start, compression and an
upload, so under a heavy write load archiving falls behind the WAL written (the
backup drill measured it) and a lost host loses the backlog. Called for segment X,
this runs the given command for X and, at the same time, for up to N-1 further
segments PostgreSQL has marked ready (pg_wal/archive_status/*.ready, oldest first).
Each of those that succeeded gets a marker; when PostgreSQL then asks for it, the
wrapper removes the marker and answers 0 without shipping it again.

Safe because a marker is written only after the command exited 0 for that segment
(it is in the bucket), ready segments are complete and never change, and PostgreSQL
keeps a segment until its own call for it returned 0. Markers live outside the data
directory (WAL_ARCHIVE_AHEAD_DIR, default /var/tmp/wal-archive-ahead), so a base
backup never carries them; losing them (a new container) only means shipping again.
It also refuses to mix two databases in one archive. Before the first segment a
container ships, it compares the database system identifier in that segment's header
with the one in the newest segment of the archive (S3 destinations): a new, empty
database initialised on a new volume has another identifier than the lost one whose
WAL is there, and gets exit 3 and a message in the server log instead of writing into
that prefix (PostgreSQL retries, the WalArchivingFailing alert fires). A server
restored from the archive keeps its identifier and goes on archiving (a new timeline).

After each call that shipped something, it writes how far archiving is behind to
<destination>/<server>.archive-status.json (S3 destinations): the segments PostgreSQL
has marked ready that are not in the bucket yet. `ops backup verify` reads it.

Exit status: the command's for segment X; 2 on bad arguments; 3 the archive belongs
to another database system; 1 the archive cannot be read for that check.
"""

from __future__ import annotations

import bz2
import json
import os
import re
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

SEGMENT = re.compile(r"[0-9A-F]{24}")
# XLogLongPageHeaderData at the start of every segment: xlp_sysid is 8 bytes at offset 24.
SYSID_OFFSET = 24


class ArchiveError(Exception):
    pass


def ready_after(wal_dir: Path, name: str, count: int) -> list[str]:
    """Up to `count` WAL segments after `name` that PostgreSQL marked ready, oldest first."""
    if count <= 0 or not SEGMENT.fullmatch(name):
        return []
    return [r for r in ready_segments(wal_dir) if r > name][:count]


def segment_system_id(header: bytes) -> int | None:
    if len(header) < SYSID_OFFSET + 8:
        return None
    return struct.unpack_from("<Q", header, SYSID_OFFSET)[0]


def destination(command: list[str]) -> tuple[str, str, str, str | None] | None:
    """(bucket, key prefix of the server's wals/, the URL, endpoint) of an S3 barman-cloud command, else None."""
    urls = [i for i, word in enumerate(command) if word.startswith("s3://")]
    if not urls or urls[0] + 1 >= len(command):
        return None
    url, server = command[urls[0]], command[urls[0] + 1]
    endpoint = command[command.index("--endpoint-url") + 1] if "--endpoint-url" in command else None
    bucket, _, path = url[len("s3://") :].partition("/")
    return bucket, "/".join(p for p in (path.strip("/"), server, "wals") if p) + "/", url, endpoint


def _header(body: bytes, key: str) -> bytes:
    if key.endswith(".gz"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(body, SYSID_OFFSET + 8)
    if key.endswith(".bz2"):
        return bz2.decompress(body)[: SYSID_OFFSET + 8]
    return body


def archived_system_id(bucket: str, prefix: str, endpoint: str | None) -> int | None:
    """The system identifier in the newest segment under the prefix (newest timeline first); None when empty."""
    try:
        import boto3

        s3 = boto3.client("s3", endpoint_url=endpoint)
        newest: tuple[str, str] | None = None
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                name = obj["Key"].rsplit("/", 1)[-1]
                if SEGMENT.fullmatch(name.split(".", 1)[0]) and (newest is None or name > newest[0]):
                    newest = (name, obj["Key"])
        if newest is None:
            return None
        whole = newest[1].endswith(".bz2")  # a bzip2 block decompresses only whole
        ranged = {} if whole else {"Range": "bytes=0-65535"}
        body = s3.get_object(Bucket=bucket, Key=newest[1], **ranged)["Body"].read()
        return segment_system_id(_header(body, newest[1]))
    except Exception as exc:  # any failure to read the archive fails the call, named
        raise ArchiveError(f"cannot read s3://{bucket}/{prefix} to check its database system: {exc}") from exc


def check_same_system(wal_path: Path, command: list[str], markers: Path) -> int:
    """0 when the archive is empty or holds this database system's WAL (remembered per container), else 3."""
    with open(wal_path, "rb") as handle:
        ours = segment_system_id(handle.read(SYSID_OFFSET + 8))
    where = destination(command)
    if ours is None or where is None:
        return 0
    checked = markers / f"system-{ours}"
    if checked.exists():
        return 0
    bucket, prefix, url, endpoint = where
    try:
        theirs = archived_system_id(bucket, prefix, endpoint)
    except ArchiveError as exc:
        print(f"wal-archive-ahead: {exc}", file=sys.stderr)
        return 1
    if theirs is not None and theirs != ours:
        print(
            f"wal-archive-ahead: REFUSED: {url} {command[command.index(url) + 1]} holds WAL of database system "
            f"{theirs}; this server is database system {ours} (a new database, not a restore of that one). "
            "Nothing is archived: restore the lost database into this volume (docs/runbooks/disaster-recovery.md), "
            "or give this database another stack prefix.",
            file=sys.stderr,
        )
        return 3
    markers.mkdir(mode=0o700, parents=True, exist_ok=True)
    checked.touch()
    return 0


def ready_segments(wal_dir: Path) -> list[str]:
    try:
        entries = os.listdir(wal_dir / "archive_status")
    except OSError:
        return []
    names = (e[: -len(".ready")] for e in entries if e.endswith(".ready"))
    return sorted(n for n in names if SEGMENT.fullmatch(n))


def write_status(command: list[str], asked: str, code: int, backlog: list[str]) -> None:
    """<destination>/<server>.archive-status.json: the backlog after this call; a failure only warns."""
    where = destination(command)
    if where is None:
        return
    bucket, prefix, _, endpoint = where
    key = prefix[: -len("/wals/")] + ".archive-status.json"
    body = {"at": time.time(), "asked": asked, "exit": code, "ready_segments": len(backlog)}
    body["oldest_ready"] = backlog[0] if backlog else None
    try:
        import boto3

        boto3.client("s3", endpoint_url=endpoint).put_object(Bucket=bucket, Key=key, Body=json.dumps(body).encode())
    except Exception as exc:  # noqa: BLE001 the status is for monitoring: archiving must not fail on it
        print(f"wal-archive-ahead: warning: cannot write s3://{bucket}/{key}: {exc}", file=sys.stderr)


def main(argv: list[str]) -> int:
    if len(argv) < 3 or not argv[0].isdigit() or int(argv[0]) < 1:
        print("usage: wal-archive-ahead N COMMAND... WAL_PATH (N >= 1 segments at once)", file=sys.stderr)
        return 2
    parallel, command, wal_path = int(argv[0]), argv[1:-1], Path(argv[-1])
    markers = Path(os.environ.get("WAL_ARCHIVE_AHEAD_DIR", "/var/tmp/wal-archive-ahead"))
    marker = markers / wal_path.name
    if marker.exists():
        marker.unlink()
        return 0
    if SEGMENT.fullmatch(wal_path.name):
        refused = check_same_system(wal_path, command, markers)
        if refused:
            return refused
    ahead = [n for n in ready_after(wal_path.parent, wal_path.name, parallel - 1) if not (markers / n).exists()]
    running = {n: subprocess.Popen([*command, str(wal_path.parent / n)]) for n in ahead}
    code = subprocess.run([*command, str(wal_path)]).returncode
    markers.mkdir(mode=0o700, parents=True, exist_ok=True)
    for name, proc in running.items():
        if proc.wait() == 0:
            (markers / name).touch()
    if SEGMENT.fullmatch(wal_path.name):
        shipped = {wal_path.name} if code == 0 else set()
        backlog = [n for n in ready_segments(wal_path.parent) if n not in shipped and not (markers / n).exists()]
        write_status(command, wal_path.name, code, backlog)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
