"""services/postgres/wal_archive_ahead.py, the archive_command wrapper, run as PostgreSQL runs it.

A stand-in for barman-cloud-wal-archive records each segment it ships (and when it
started and ended) in a log, so the tests see what was shipped, how often and at once.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "services" / "postgres" / "wal_archive_ahead.py"
SEGMENTS = [f"0000000100000000000000{n:02X}" for n in range(1, 9)]
# Ships its last argument: logs "start NAME", sleeps, logs "end NAME"; fails for names in $FAIL.
SHIPPER = """import os, sys, time
name = os.path.basename(sys.argv[-1])
log = open(os.environ["SHIP_LOG"], "a")
log.write(f"start {name}\\n"); log.flush()
time.sleep(0.3)
if name in os.environ.get("FAIL", "").split():
    sys.exit(1)
log.write(f"end {name}\\n")
"""


@pytest.fixture
def pgdata(tmp_path: Path) -> Path:
    data = tmp_path / "pgdata"
    (data / "pg_wal" / "archive_status").mkdir(parents=True)
    for name in SEGMENTS:
        (data / "pg_wal" / name).write_bytes(b"wal")
        (data / "pg_wal" / "archive_status" / f"{name}.ready").touch()
    (tmp_path / "ship.py").write_text(SHIPPER)
    return data


def archive(pgdata: Path, name: str, parallel: int = 4, fail: str = "") -> int:
    env = {"SHIP_LOG": str(pgdata.parent / "ship.log"), "FAIL": fail}
    env["WAL_ARCHIVE_AHEAD_DIR"] = str(pgdata.parent / "markers")
    argv = [sys.executable, str(SCRIPT), str(parallel), sys.executable, str(pgdata.parent / "ship.py"), "--gzip"]
    return subprocess.run([*argv, f"pg_wal/{name}"], cwd=pgdata, env=env).returncode


def shipped(pgdata: Path) -> list[str]:
    log = pgdata.parent / "ship.log"
    return log.read_text().splitlines() if log.exists() else []


def done(pgdata: Path, name: str) -> None:
    """What PostgreSQL does after archive_command returned 0 for the segment."""
    status = pgdata / "pg_wal" / "archive_status"
    (status / f"{name}.ready").rename(status / f"{name}.done")


def test_the_asked_segment_and_the_next_ready_ones_ship_at_once(pgdata: Path) -> None:
    assert archive(pgdata, SEGMENTS[0]) == 0
    log = shipped(pgdata)
    assert sorted(line.split()[1] for line in log if line.startswith("end")) == SEGMENTS[:4]
    # all four started before the first one ended: in parallel
    assert all(line.startswith("start") for line in log[:4])


def test_a_segment_shipped_ahead_is_answered_without_shipping_it_again(pgdata: Path) -> None:
    archive(pgdata, SEGMENTS[0])
    done(pgdata, SEGMENTS[0])
    before = len(shipped(pgdata))
    for name in SEGMENTS[1:4]:
        assert archive(pgdata, name) == 0
        done(pgdata, name)
    assert len(shipped(pgdata)) == before
    # the markers are used once: the next call ships again (segment 5 and the three after it)
    assert archive(pgdata, SEGMENTS[4]) == 0
    assert sorted(line for line in shipped(pgdata)[before:] if line.startswith("end")) == [
        f"end {name}" for name in SEGMENTS[4:8]
    ]


def test_a_failed_segment_fails_its_call_and_is_shipped_again_when_asked(pgdata: Path) -> None:
    # The asked segment fails (PostgreSQL retries it); so does one shipped ahead.
    assert archive(pgdata, SEGMENTS[0], fail=f"{SEGMENTS[0]} {SEGMENTS[2]}") != 0
    before = len(shipped(pgdata))
    assert archive(pgdata, SEGMENTS[1]) == 0  # shipped ahead: answered from its marker
    assert len(shipped(pgdata)) == before
    assert archive(pgdata, SEGMENTS[2]) == 0  # failed ahead: no marker, shipped now
    assert f"end {SEGMENTS[2]}" in shipped(pgdata)[before:]


def test_history_files_and_parallel_one_ship_only_what_is_asked(pgdata: Path) -> None:
    history = pgdata / "pg_wal" / "00000002.history"
    history.write_text("1\t0/3000000\tno recovery target specified\n")
    assert archive(pgdata, "00000002.history") == 0
    assert archive(pgdata, SEGMENTS[0], parallel=1) == 0
    assert [line for line in shipped(pgdata) if line.startswith("end")] == [
        "end 00000002.history",
        f"end {SEGMENTS[0]}",
    ]


def test_bad_arguments_exit_2_with_usage(pgdata: Path) -> None:
    result = subprocess.run([sys.executable, str(SCRIPT), "zero", "true", "x"], capture_output=True, text=True)
    assert result.returncode == 2
    assert "usage: wal-archive-ahead N" in result.stderr
