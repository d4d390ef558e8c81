"""`python -m rehearsal [--stack staging]`: the stack's containers running for real, checked as an operator would.

Builds the stand-in images (rehearsal/images.py), brings the stack up from the
`ops compose` render with docker-compose on loopback and the containers' own
networks, runs every check, writes build/rehearsal.json and ends with
`rehearsal: N passed, M failed`. Whatever happens, every container, network
and volume of the rehearsal is removed at the end. Exit 0 only if all passed.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from components.backups import BackupTarget
from components.workload.services import ServiceSpec
from ops.local import compose
from ops.sim.engine import stack_config
from rehearsal import checks, data, dr, edge, lifecycle, ssh
from rehearsal.stack import REPO, RehearsalError, Stack, image_exists, require, run

LOCAL_AWS_SERVICES = (compose.LOCAL_AWS, f"{compose.LOCAL_AWS}-init")


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    seconds: float


class Report:
    """The checks' results; `add` and `check` may be called from several threads at once."""

    def __init__(self) -> None:
        self.checks: list[Check] = []
        self._lock = threading.Lock()

    def add(self, name: str, ok: bool, detail: str, seconds: float) -> None:
        with self._lock:
            self.checks.append(Check(name, ok, detail, round(seconds, 1)))
            print(f"{'ok  ' if ok else 'FAIL'} {name} ({seconds:.1f} s): {detail}", flush=True)

    def order(self, names: list[str]) -> None:
        """Put the checks named in `names` in that order (they may have finished in another)."""
        with self._lock:
            rank = {name: i for i, name in enumerate(names)}
            listed = iter(sorted((c for c in self.checks if c.name in rank), key=lambda c: rank[c.name]))
            self.checks = [next(listed) if c.name in rank else c for c in self.checks]

    def check(self, name: str, step: Callable[[], str]) -> None:
        began = time.monotonic()
        try:
            detail, ok = step(), True
        except Exception as exc:  # noqa: BLE001 a failed check is recorded; the others still run
            detail, ok = f"{type(exc).__name__}: {exc}", False
        self.add(name, ok, detail, time.monotonic() - began)


def rehearsed(stack: Stack) -> tuple[list[str], dict[str, str]]:
    """The services whose image exists here, and the others with the reason."""
    skipped: dict[str, str] = {}
    services: list[str] = []
    for name, service in stack.document["services"].items():
        if name in LOCAL_AWS_SERVICES:
            continue
        image = service["image"]
        if image_exists(image):
            services.append(name)
        else:
            skipped[name] = f"no stand-in image for {image} (no Debian, npm or PyPI package): statically checked only"
    return services, skipped


def run_checks(stack: Stack, services: list[str], report: Report, times: dict[str, float]) -> None:
    specs = [stack.specs[n] for n in services]
    for name, (ok, detail, took) in checks.healthy_within_start_period(stack, services).items():
        report.add(f"healthy:{name}", ok, detail, took)
    target = BackupTarget(bucket=compose.LOCAL_BUCKETS["backups"], stack=stack.config.stack)
    running = set(services)
    report.check("targets-up", lambda: checks.targets_up(stack, running))
    report.check("pg_up", lambda: checks.pg_up(stack))
    report.check("rules-loaded", lambda: checks.rules_loaded(stack))
    report.check("wal-archived", lambda: data.wal_archived(stack, target))
    report.check("backup-job", lambda: data.backup_job(stack, target))
    report.check("restore-from-s3", lambda: data.restore_from_s3(stack, target))
    report.check("directus-health", lambda: data.directus_health(stack))
    report.check("database-roles", lambda: data.database_roles(stack))
    report.check("traefik-through-proxy", lambda: edge.traefik_through_proxy(stack))
    report.check("compose-equals-plan", lambda: lifecycle.compose_equals_plan(stack, services))
    report.check("alert-delivered", lambda: checks.alert_delivered(stack))
    # Loses and restores the database; the replacements below then run on the restored stack.
    report.check("dr-end-to-end", lambda: dr.dr_end_to_end(stack, target, times))
    # Unrelated services are replaced at the same time; the report lists replace: then stop:, as before.
    lifecycle.replace_and_stop(stack, specs, report.check)
    report.order(
        [f"replace:{s.name}" for s in _by_replacement(specs, "create-first")]
        + [f"stop:{s.name}" for s in _by_replacement(specs, "delete-first")]
    )


def _by_replacement(specs: list[ServiceSpec], kind: str) -> list[ServiceSpec]:
    return [s for s in specs if s.replacement == kind]


def rehearse(stack_name: str, out: Path) -> int:
    require("docker", "apt-get install docker.io")
    require("docker-compose", "apt-get install docker-compose")
    if not run(["docker", "info", "--format", "{{.ServerVersion}}"], check=False).strip():
        raise RehearsalError("no Docker engine answers: start one (as root: dockerd --storage-driver=vfs &)")
    from rehearsal.images import build_all  # the image builder needs mmdebstrap only when used

    config = stack_config(stack_name)
    stack = Stack(config, REPO / "build" / "rehearsal" / stack_name)
    report = Report()
    # "dr": the seconds dr-end-to-end measured (rto_cms_s: restore start -> Directus healthy).
    result: dict[str, Any] = {"stack": stack_name, "checks": [], "images": {}, "not_rehearsed": {}, "dr": {}}
    began = time.monotonic()
    try:
        result["images"] = build_all(stack_name, print)
        stack.render(checks.rehearsal_rules(stack))
        stack.down()  # leftovers of an interrupted run
        services, result["not_rehearsed"] = rehearsed(stack)
        ssh.rehearse_ssh(config.region, stack.document["services"]["redis"]["image"], report.check)
        print(f"rehearsal: starting {len(services)} services: {', '.join(services)}", flush=True)
        try:
            stack.up([*services, *LOCAL_AWS_SERVICES])
        except RehearsalError as exc:  # a dependency that never turned healthy: the checks say which
            report.add("compose-up", False, str(exc), time.monotonic() - began)
        if any(stack.container_ids(name) for name in services):
            run_checks(stack, services, report, result["dr"])
    except Exception as exc:  # noqa: BLE001 recorded as a failed step; teardown still runs
        report.add("setup", False, f"{type(exc).__name__}: {exc}", time.monotonic() - began)
    finally:
        stack.down()
    result["checks"] = [asdict(c) for c in report.checks]
    result["seconds"] = round(time.monotonic() - began, 1)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    passed = sum(c.ok for c in report.checks)
    failed = len(report.checks) - passed
    print(f"rehearsal: {passed} passed, {failed} failed")
    return 0 if failed == 0 and passed else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rehearsal", description=__doc__)
    parser.add_argument("--stack", default="staging", help="stack whose services to rehearse (default: staging)")
    parser.add_argument("--out", default="build/rehearsal.json", help="where to write the report")
    args = parser.parse_args(argv)

    # A stopped run (CI timeout, Ctrl-C) still tears down: SIGTERM becomes an exit through `finally`,
    # and a second signal (a wrapper forwarding its own) must not cut the teardown short.
    def stop(signum: int, _frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        return rehearse(args.stack, Path(args.out))
    except RehearsalError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
