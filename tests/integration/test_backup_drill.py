"""The backup drill, small: archive, back up, lose the primary, restore latest and to a past moment.

Real PostgreSQL 15 + PostGIS (as the postgres user), real barman-cloud-* from
Debian, the real backup-job script and `python -m ops backup restore`, against
moto's S3 API on 127.0.0.1. archive_timeout is 5 s here (60 s in the stacks) so
the drill fits in under a minute; benchmarks/backup_drill.py runs it at 60 s on 1 GB.
"""

from __future__ import annotations

import time

import pytest

from benchmarks import drill
from tests.conftest import require_tool

ARCHIVE_TIMEOUT = 5


@pytest.fixture(scope="module")
def result() -> drill.DrillResult:
    require_tool("barman-cloud-wal-archive", "apt-get install barman-cli-cloud")
    require_tool("/usr/lib/postgresql/15/bin/postgres", "apt-get install postgresql-15 postgresql-15-postgis-3")
    started = time.monotonic()
    with drill.scratch_dir() as workdir:
        outcome = drill.run_drill(
            workdir, size_mb=2, archive_timeout=ARCHIVE_TIMEOUT, beat_seconds=10, parallel_restores=True
        )
    print(
        f"drill took {time.monotonic() - started:.1f}s; RPO {outcome.rpo_seconds:.1f}s, RTO {outcome.rto_seconds:.1f}s"
    )
    return outcome


def test_backup_job_wrote_a_base_backup_a_dump_and_their_metrics(result: drill.DrillResult) -> None:
    assert result.base_backup_bytes > 0
    assert result.dump_bytes > 0
    assert 'quintas_backup_last_success_timestamp_seconds{kind="base"}' in result.metrics
    assert 'quintas_backup_last_success_timestamp_seconds{kind="dump"}' in result.metrics


def test_verify_passed_while_the_primary_was_archiving(result: drill.DrillResult) -> None:
    assert result.verify_exit_code == 0


def test_restore_to_latest_brings_back_the_loaded_data_unchanged(result: drill.DrillResult) -> None:
    assert result.tables_match
    assert "postgis   POSTGIS=" in result.restore_output


def test_no_heartbeat_older_than_the_archive_timeout_is_lost(result: drill.DrillResult) -> None:
    assert result.beats_committed >= 8
    assert result.lost_before_cutoff == []
    # the RPO is bounded by archive_timeout plus the time to ship one segment
    assert 0 < result.rpo_seconds <= ARCHIVE_TIMEOUT + drill.SHIP_ALLOWANCE_SECONDS


def test_point_in_time_restore_has_exactly_the_rows_committed_by_then(result: drill.DrillResult) -> None:
    assert result.pitr_expected
    assert result.pitr_restored == result.pitr_expected
    assert len(result.pitr_expected) < result.beats_restored
