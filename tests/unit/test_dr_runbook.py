"""The disaster-recovery runbook's restore command, as the rehearsal's dr-end-to-end check runs it."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.drill_data import CRM_TABLES
from rehearsal.checks import CheckFailed
from rehearsal.dr import RUNBOOK, LocalHost, rehearsal_restore_argv, runbook_restore_block

LOCAL = LocalHost(
    stack="staging",
    bucket="backups",
    image="quintas-crm/postgres:16-3.4-barman-2",
    volume="quintas-rehearsal_data-postgres",
    credentials=Path("/tmp/creds"),
    scratch=Path("/tmp/scratch"),
)


def _values(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv) if a == flag]


def test_the_runbooks_restore_runs_in_the_stacks_own_postgres_image_with_host_paths_swapped() -> None:
    argv = rehearsal_restore_argv(runbook_restore_block(), LOCAL)
    assert argv[:2] == ["docker", "run"] and "--rm" in argv
    assert _values(argv, "--network") == ["egress"]
    # The image is the one the stack's postgres container runs, read with docker inspect: not a made-up name.
    assert argv[argv.index(LOCAL.image) + 1 :][:4] == ["/opt/barman/bin/python3", "-m", "ops.cli.backup", "restore"]
    volumes = _values(argv, "-v")
    assert f"{LOCAL.volume}:/srv/data/postgres" in volumes and "/tmp/scratch:/srv/data" in volumes
    assert _values(argv, "--stack") == ["staging"] and _values(argv, "--bucket") == ["backups"]
    assert _values(argv, "--to") == ["latest"] and _values(argv, "--target-dir") == ["/srv/data/postgres/pgdata"]
    assert set(_values(argv, "--verify-table")) == set(CRM_TABLES)


def test_a_runbook_naming_an_image_that_no_host_has_fails_saying_what_changed(tmp_path: Path) -> None:
    old = RUNBOOK.read_text().replace('  "$IMAGE" \\\n', "  quintas-postgres:<imageTags.postgres> \\\n")
    assert old != RUNBOOK.read_text()
    (tmp_path / "dr.md").write_text(old)
    with pytest.raises(CheckFailed, match=r"no `\$IMAGE`"):
        rehearsal_restore_argv(runbook_restore_block(tmp_path / "dr.md"), LOCAL)


def test_a_runbook_without_the_restore_block_fails_naming_it(tmp_path: Path) -> None:
    (tmp_path / "dr.md").write_text("# Runbook\n\n```bash\necho nothing\n```\n")
    with pytest.raises(CheckFailed, match="0 bash blocks with `ops.cli.backup restore --to latest`"):
        runbook_restore_block(tmp_path / "dr.md")


def test_step_4_starts_directus_before_the_backup_job_and_never_execs_in_a_stopped_container() -> None:
    step4 = RUNBOOK.read_text().split("## 4.")[1].split("```bash\n")[1].split("```")[0].splitlines()
    starts = [i for i, line in enumerate(step4) if line.startswith("sudo docker start")]
    job = next(i for i, line in enumerate(step4) if "backup-job run" in line)
    started_backup = next(i for i in starts if step4[i].split("#")[0].split()[3:] == ["backup"])
    assert "directus" in step4[starts[1]] and starts[1] < job
    assert started_backup < job
