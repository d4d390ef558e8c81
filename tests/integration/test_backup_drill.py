"""The backup drill, small: base backup, a burst of CRM work, lose the primary, restore latest and to a past moment.

Everything PostgreSQL runs inside the production postgres image at the tag the prod
stack records (its barman, PostgreSQL and PostGIS): the stacks' archive_command, the
real backup job, and the runbook's `ops.cli.backup restore` inside the image, against
moto's S3 API on 127.0.0.1. archive_timeout is 5 s here (50 s in the stacks) and the
data small, so the drill takes minutes; benchmarks/backup_drill.py runs it at 60 s on
1 GB of base and 1 GB of WAL.
"""

from __future__ import annotations

import time

import pytest

from benchmarks import drill, drill_server
from benchmarks.drill_result import DrillResult
from tests.conftest import require_tool

pytestmark = pytest.mark.docker  # the pinned postgres image: `make rehearsal` builds it, then runs this

ARCHIVE_TIMEOUT = 5


@pytest.fixture(scope="module")
def result() -> DrillResult:
    require_tool("docker", "apt-get install docker.io (and a running engine)")
    try:
        drill_server.require_image(drill_server.pinned_image())
    except drill_server.ContainerError as exc:
        pytest.fail(str(exc))
    started = time.monotonic()
    with drill.scratch_dir() as workdir:
        outcome = drill.run_drill(workdir, size_mb=20, wal_mb=64, archive_timeout=ARCHIVE_TIMEOUT)
    print(f"drill took {time.monotonic() - started:.1f}s; RPO {outcome.rpo_worst_s:.1f}s, RTO {outcome.rto_db_s:.1f}s")
    return outcome


def test_the_drill_ran_the_pinned_barman_inside_the_production_image(result: DrillResult) -> None:
    dockerfile = (drill_server.ROOT / "services" / "postgres" / "Dockerfile").read_text()
    assert f"ARG BARMAN_VERSION={result.versions['barman']}\n" in dockerfile
    assert result.versions["postgres"].split(".")[0].isdigit()
    assert "postgis   POSTGIS=" in result.restore_output


def test_backup_job_wrote_a_base_backup_a_dump_and_their_metrics(result: DrillResult) -> None:
    assert result.base_bytes > 0
    assert result.dump_bytes > 0
    assert 'quintas_backup_last_success_timestamp_seconds{kind="base"}' in result.metrics
    assert 'quintas_backup_last_success_timestamp_seconds{kind="dump"}' in result.metrics


def test_verify_passed_after_the_load(result: DrillResult) -> None:
    assert result.verify_exit_code == 0, result.verify_output


def test_wal_written_after_the_base_backup_was_replayed(result: DrillResult) -> None:
    assert result.workload.batches >= 2
    assert result.wal_bytes_replayed >= 64 * 2**20


def test_every_crm_table_and_the_spatial_query_are_equal_after_both_restores(result: DrillResult) -> None:
    assert result.checks["spatial query uses lots_boundary_gist"]
    for when in ("latest", "pitr"):
        for table in ("public.lots", "public.clients", "public.sales", "public.payments"):
            assert result.checks[f"{when}: rows {table}"], (when, table)
            assert result.checks[f"{when}: checksum {table}"], (when, table)
    assert all(result.checks.values()), [name for name, ok in result.checks.items() if not ok]


def test_no_heartbeat_older_than_the_archive_timeout_is_lost(result: DrillResult) -> None:
    assert result.beats_committed >= 8
    assert result.checks["latest: every heartbeat older than archive_timeout + margin"]
    assert 0 < result.rpo_kill_s <= ARCHIVE_TIMEOUT + drill.QUIET_MARGIN_SECONDS


def test_point_in_time_restore_has_exactly_the_heartbeats_committed_by_then(result: DrillResult) -> None:
    assert result.pitr_target
    assert result.checks["pitr: heartbeats exactly those committed by then"]
