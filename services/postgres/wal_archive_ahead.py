#!/usr/bin/python3
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
Exit status: the command's for segment X; 2 on bad arguments.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

SEGMENT = re.compile(r"[0-9A-F]{24}")


def ready_after(wal_dir: Path, name: str, count: int) -> list[str]:
    """Up to `count` WAL segments after `name` that PostgreSQL marked ready, oldest first."""
    if count <= 0 or not SEGMENT.fullmatch(name):
        return []
    status = wal_dir / "archive_status"
    try:
        ready = sorted(e[: -len(".ready")] for e in os.listdir(status) if e.endswith(".ready"))
    except OSError:
        return []
    return [r for r in ready if SEGMENT.fullmatch(r) and r > name][:count]


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
    ahead = [n for n in ready_after(wal_path.parent, wal_path.name, parallel - 1) if not (markers / n).exists()]
    running = {n: subprocess.Popen([*command, str(wal_path.parent / n)]) for n in ahead}
    code = subprocess.run([*command, str(wal_path)]).returncode
    markers.mkdir(mode=0o700, parents=True, exist_ok=True)
    for name, proc in running.items():
        if proc.wait() == 0:
            (markers / name).touch()
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
