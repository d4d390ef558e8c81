"""Every pattern that checks user input matches the whole string, in ASCII only.

`re.match(r"^...$")` accepts a trailing newline (`$` matches before it), and `\\d`
accepts any Unicode digit ('٠٢', '０２'), which int() then reads as a number. A
value copied with its line end, or typed with another keyboard layout, must be
refused where it is checked, not fail later where it is used.
"""

from __future__ import annotations

import argparse
import zoneinfo
from datetime import UTC, datetime

import pytest

from components.workload.services import HealthCheck, ServiceSpec
from components.workload.spec_checks import validate
from ops.backup.restore import RestoreError, check_table_names
from ops.cli.backup import InputError, resolve_target
from tests.helpers import backup_job_script
from tests.unit.test_services import good

ARABIC_TWO = "\u0662"  # ٢
FULLWIDTH_FIVE = "\uff15"  # ５


@pytest.mark.parametrize("stack", ["prod\n", f"prod{ARABIC_TWO}"])
def test_backup_verb_refuses_a_stack_name_with_a_line_end_or_foreign_digit(stack: str) -> None:
    args = argparse.Namespace(stack=stack, bucket="b", outputs=None, server="quintas-crm", endpoint_url=None)
    with pytest.raises(InputError, match="is not a stack name"):
        resolve_target(args)


def test_restore_refuses_a_table_name_with_a_line_end() -> None:
    with pytest.raises(RestoreError, match="is not a table name"):
        check_table_names(["payments\n"])


@pytest.mark.parametrize("hhmm", ["02:00\n", f"0{ARABIC_TWO}:00", f"02:{FULLWIDTH_FIVE}0"])
def test_backup_job_refuses_a_time_that_is_not_ascii_hh_mm(hhmm: str) -> None:
    job = backup_job_script.load()
    with pytest.raises(job.SettingsError, match="is not HH:MM"):
        job.next_run(datetime(2026, 3, 1, tzinfo=UTC), hhmm, zoneinfo.ZoneInfo("UTC"))


def _spec(name: str, interval: str) -> ServiceSpec:
    health = HealthCheck(("wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/health"), interval=interval)
    return good(name=name, health=health)


def test_a_spec_name_with_a_line_end_is_refused() -> None:
    assert any("name must be a lower-case DNS label" in p for p in validate(_spec("redis\n", "10s")))


def test_a_health_check_duration_with_a_foreign_digit_is_refused() -> None:
    problems = validate(_spec("redis", f"1{FULLWIDTH_FIVE}s"))
    assert any("health" in p for p in problems), problems


def test_valid_values_still_pass() -> None:
    job = backup_job_script.load()
    assert job.next_run(datetime(2026, 3, 1, tzinfo=UTC), "02:00", zoneinfo.ZoneInfo("UTC")).hour == 2
    assert validate(_spec("redis", "10s")) == []
    check_table_names(["payments", "public.payments"])


def test_a_docker_duration_is_read_only_when_it_is_ascii_and_whole() -> None:
    from components.workload.services import duration_seconds

    assert (duration_seconds("15s"), duration_seconds("1m")) == (15, 60)
    assert duration_seconds("15s\n") == 0 and duration_seconds(f"1{FULLWIDTH_FIVE}s") == 0
