"""The backup drill at production scale: RPO, RTO, base backup size, compression, restore speed.

Runs benchmarks/drill.py with a CRM dataset of --size-mb (default 1100 MB, so the database
is over 1 GB) and the stacks' archive_timeout of 60 s: the real archive_command,
the real backup job, SIGKILL of the primary, `ops backup restore --to latest` (timed
alone, for the RTO) and a point-in-time restore. Needs root (servers run as the
postgres user), PostgreSQL 15 + PostGIS and barman-cli-cloud. Goals: RPO <= 60 s,
RTO <= 5 min for 1 GB on 2 cores.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import drill

MB = 2**20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--size-mb", type=float, default=1100, help="dataset size in MB (default 1100)")
    parser.add_argument("--archive-timeout", type=int, default=60, help="seconds (default 60, as in the stacks)")
    parser.add_argument("--beat-seconds", type=float, help="heartbeat time before the kill (default 2.5 x timeout)")
    args = parser.parse_args()
    beats = args.beat_seconds or 2.5 * args.archive_timeout
    started = time.monotonic()

    def progress(line: str) -> None:
        print(f"[{time.monotonic() - started:6.1f}s] {line}", flush=True)

    with drill.scratch_dir() as workdir:
        r = drill.run_drill(workdir, args.size_mb, args.archive_timeout, beats, progress=progress)
    print("\n--- restore --to latest (ops backup restore output) ---")
    print(r.restore_output.rstrip())
    print("\n--- results ---")
    lines = [
        ("database size", f"{r.database_bytes / MB:.0f} MB ({r.database_bytes / 2**30:.2f} GiB)"),
        ("base backup size (gzip)", f"{r.base_backup_bytes / MB:.0f} MB"),
        ("compression ratio", f"{r.compression_ratio:.2f} (database size / base backup size)"),
        ("dump size (pg_dump -Fc)", f"{r.dump_bytes / MB:.0f} MB"),
        ("backup job (base + dump + retention)", f"{r.backup_job_seconds:.1f} s"),
        ("archive_timeout", f"{args.archive_timeout} s"),
        ("heartbeats committed before the kill", str(r.beats_committed)),
        ("heartbeats restored", str(r.beats_restored)),
        ("RPO (kill - last surviving heartbeat)", f"{r.rpo_seconds:.1f} s (goal <= 60 s)"),
        ("RTO (restore start -> verified, accepting)", f"{r.rto_seconds:.1f} s (goal <= 300 s)"),
        ("restore throughput", f"{r.restore_mb_per_s:.1f} MB/s of database"),
        ("rows lost committed before kill - archive_timeout", str(len(r.lost_before_strict_cutoff))),
        ("rows lost committed before kill - archive_timeout - 3 s", str(len(r.lost_before_cutoff))),
        ("key tables identical after restore", "yes" if r.tables_match else "NO"),
        ("PITR to", r.pitr_target),
        ("PITR rows as at that moment", "exact" if r.pitr_restored == r.pitr_expected else "DIFFERENT"),
        ("ops backup verify while archiving", "exit 0" if r.verify_exit_code == 0 else f"exit {r.verify_exit_code}"),
        ("benchmark wall time", f"{time.monotonic() - started:.0f} s"),
    ]
    width = max(len(name) for name, _ in lines)
    for name, value in lines:
        print(f"{name:<{width}}  {value}")
    ok = (
        r.tables_match
        and not r.lost_before_cutoff
        and r.pitr_restored == r.pitr_expected
        and r.rpo_seconds <= 60
        and r.rto_seconds <= 300
    )
    print("goals met" if ok else "GOALS NOT MET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
