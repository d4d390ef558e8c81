"""The drill's day under load: heartbeats, the CRM workload, and how far archiving is behind.

- `Heartbeat` commits one row a second and records when each commit was
  acknowledged and the WAL position it had reached.
- `ArchiveWatch` reads pg_stat_archiver and the WAL position every second. A
  heartbeat is safe once the last archived segment ends at or after its position;
  the data a lost host would have lost at that moment is the time since the newest
  safe heartbeat: the RPO at that moment. The worst of these is the drill's RPO.
- `run_workload` commits CRM batches (drill_data.write_batch) until the WAL written
  since the base backup reaches the goal.
"""

from __future__ import annotations

import bisect
import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from benchmarks import drill_data

SEGMENT = 16 * 2**20


@dataclass
class Beat:
    beat: int
    sent: float
    acked: float
    lsn: int


def parse_lsn(text: str) -> int:
    high, low = text.split("/")
    return (int(high, 16) << 32) + int(low, 16)


def segment_end(name: str) -> int | None:
    """The WAL position just after segment `name` (e.g. 000000010000000200000041), 16 MB segments."""
    if len(name) != 24 or not all(c in "0123456789ABCDEF" for c in name):
        return None  # a history file or a .partial segment
    log, seg = int(name[8:16], 16), int(name[16:24], 16)
    return (log << 32) + (seg + 1) * SEGMENT


def connect(port: int, database: str):
    import psycopg2

    conn = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname=database)
    conn.autocommit = True
    return conn


class Heartbeat(threading.Thread):
    """One row a second; each commit's acknowledgement time and WAL position."""

    def __init__(self, port: int, database: str) -> None:
        super().__init__(daemon=True)
        self.port, self.database = port, database
        self.beats: list[Beat] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        import psycopg2

        conn = connect(self.port, self.database)
        n = 0
        try:
            while not self.stopping.is_set():
                n += 1
                sent = time.time()
                with conn.cursor() as cur:
                    cur.execute("INSERT INTO heartbeat (beat) VALUES (%s)", (n,))
                    acked = time.time()
                    cur.execute("SELECT pg_current_wal_insert_lsn()::text")
                    row = cur.fetchone()
                self.beats.append(Beat(n, sent, acked, parse_lsn(row[0]) if row else 0))
                self.stopping.wait(max(0.0, 1.0 - (time.time() - sent)))
        except psycopg2.Error:
            pass  # the primary was killed: the beats recorded so far are the committed ones
        finally:
            with contextlib.suppress(psycopg2.Error):
                conn.close()


@dataclass
class Sample:
    at: float
    current: int
    archived_end: int


class ArchiveWatch(threading.Thread):
    """Every second: the WAL position and the end of the last archived segment."""

    def __init__(self, port: int, database: str, heartbeat: Heartbeat) -> None:
        super().__init__(daemon=True)
        self.port, self.database, self.heartbeat = port, database, heartbeat
        self.samples: list[Sample] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        import psycopg2

        conn = connect(self.port, self.database)
        sql = "SELECT pg_current_wal_lsn()::text, coalesce(last_archived_wal, '') FROM pg_stat_archiver"
        try:
            while not self.stopping.wait(1.0):
                with conn.cursor() as cur:
                    cur.execute(sql)
                    row = cur.fetchone()
                if row:
                    end = segment_end(row[1]) or (self.samples[-1].archived_end if self.samples else 0)
                    self.samples.append(Sample(time.time(), parse_lsn(row[0]), end))
        except psycopg2.Error:
            pass
        finally:
            with contextlib.suppress(psycopg2.Error):
                conn.close()

    def rpo_at(self, sample: Sample, since: float) -> float:
        """Seconds of commits a host lost at this sample would have lost (at most since `since`)."""
        beats = [b for b in self.heartbeat.beats if b.acked <= sample.at]
        positions = [b.lsn for b in beats]
        safe = bisect.bisect_right(positions, sample.archived_end)
        newest_safe = beats[safe - 1].acked if safe else since
        return sample.at - max(newest_safe, since)

    def worst(self, since: float, until: float) -> tuple[float, int]:
        """The worst RPO and the largest backlog in bytes (WAL written, not yet archived) in [since, until]."""
        window = [s for s in self.samples if since <= s.at <= until]
        rpo = max((self.rpo_at(s, since) for s in window), default=0.0)
        backlog = max((max(s.current - s.archived_end, 0) for s in window), default=0)
        return rpo, backlog


@dataclass
class Workload:
    batches: int = 0
    lots_added: int = 0
    started: float = 0.0
    ended: float = 0.0
    start_lsn: int = 0
    end_lsn: int = 0
    pitr_snapshot: dict[str, str] = field(default_factory=dict)
    pitr_moment: float = 0.0

    @property
    def wal_bytes(self) -> int:
        return self.end_lsn - self.start_lsn


def run_workload(
    server: drill_data.Server,
    database: str,
    base_lots: int,
    wal_goal_bytes: int,
    since_lsn: int,
    progress: Callable[[str], None],
) -> Workload:
    """CRM batches until `wal_goal_bytes` of WAL follow the workload's start (and the base backup's, `since_lsn`).

    Halfway, it pauses to record the CRM tables as they are: the point-in-time restore's
    expected state, at a moment between two batches.
    """
    work = Workload(started=time.time(), start_lsn=parse_lsn(server.psql("SELECT pg_current_wal_lsn()")))
    next_lot = base_lots + 1
    lots = max(min(drill_data.WORK_LOTS, base_lots // 4), 50)
    while True:
        lsn = parse_lsn(server.psql("SELECT pg_current_wal_lsn()"))
        if lsn - work.start_lsn >= wal_goal_bytes:
            break
        if not work.pitr_snapshot and lsn - work.start_lsn >= wal_goal_bytes // 2:
            work.pitr_moment = time.time()
            work.pitr_snapshot = drill_data.snapshot(server, database)
            progress(f"point-in-time reference recorded after batch {work.batches}")
        drill_data.write_batch(server, database, work.batches + 1, base_lots, next_lot, lots)
        work.batches += 1
        work.lots_added += lots
        next_lot += lots
        if work.batches % 10 == 0:
            progress(f"workload: {work.batches} batches, {(lsn - since_lsn) / 2**20:.0f} MB of WAL since the backup")
    work.ended = time.time()
    work.end_lsn = lsn
    return work
