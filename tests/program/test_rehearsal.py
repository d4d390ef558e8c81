"""The rehearsal's own logic, without a Docker engine: what it compares and what it fires.

The rehearsal itself (`make rehearsal`, run by `make test`) needs the engine.
"""

from __future__ import annotations

import itertools
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from ops.local import compose
from ops.sim import engine
from ops.sim.engine import stack_config
from rehearsal import checks, lifecycle
from rehearsal.__main__ import Report
from rehearsal.stack import Stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Stack:
    rendered = Stack(stack_config("staging"), tmp_path_factory.mktemp("rehearsal") / "staging")
    rendered.render(checks.rehearsal_rules(rendered))
    return rendered


def _running(want: dict[str, Any]) -> dict[str, Any]:
    """A container that runs exactly what was planned (the shape lifecycle.running returns)."""
    return {
        "image": want["labels"]["quintas.image"],
        "command": list(want["command"]),
        "image_command": [],
        "env": set(want["env"]),
        "image_env": set(),
        "mounts": set(want["mounts"]),
        "image_volumes": set(),
        "networks": set(want["networks"]),
        "network_mode": want["network_mode"] or "default",
        "health": list(want["health"]),
        "labels": dict(want["labels"]),
        "image_labels": set(),
    }


@pytest.fixture(scope="module")
def planned(staging: engine.Run) -> dict[str, dict[str, Any]]:
    return lifecycle.planned(staging)


def test_a_container_equal_to_the_plan_has_no_differences(planned: dict[str, dict[str, Any]]) -> None:
    allowed = {"env": set(), "mounts": set(), "labels": set()}
    assert lifecycle._differences("postgres", planned["postgres"], _running(planned["postgres"]), allowed) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda c: c["env"].discard("POSTGRES_DB"), "env names: extra [], missing ['POSTGRES_DB']"),
        (lambda c: c["env"].add("POSTGRES_PASSWORD"), "env names: extra ['POSTGRES_PASSWORD']"),
        (lambda c: c["mounts"].discard("/var/lib/postgresql/data"), "mounts: extra [], missing"),
        (lambda c: c["networks"].add("edge"), "networks ['backend', 'edge', 'egress']"),
        (lambda c: c["health"].__setitem__(4, 5.0), "health check"),
        (lambda c: c["command"].append("-c"), "command"),
        (lambda c: c["labels"].__setitem__("quintas.stack", "prod"), "labels differ: quintas.stack"),
        (lambda c: c.__setitem__("image", "postgres:latest"), "image postgres:latest"),
    ],
)
def test_compose_equals_plan_names_each_kind_of_difference(
    planned: dict[str, dict[str, Any]], change: Any, expected: str
) -> None:
    running = _running(planned["postgres"])
    change(running)
    allowed = {"env": set(), "mounts": set(), "labels": set()}
    problems = lifecycle._differences("postgres", planned["postgres"], running, allowed)
    assert len(problems) == 1 and problems[0].startswith(expected), problems


def test_what_the_image_itself_sets_is_not_a_difference_but_a_planned_value_must_be_there(
    planned: dict[str, dict[str, Any]],
) -> None:
    running = _running(planned["postgres"])
    running["env"] |= {"PATH", "PG_MAJOR"}
    running["image_env"] = {"PATH", "PG_MAJOR", "PGDATA"}
    running["labels"]["org.opencontainers.image.version"] = "15"
    running["image_labels"] = {"org.opencontainers.image.version"}
    allowed = {"env": set(), "mounts": set(), "labels": set()}
    assert lifecycle._differences("postgres", planned["postgres"], running, allowed) == []
    running["env"].discard("PGDATA")  # the image has it, but the plan sets it: the container must too
    assert lifecycle._differences("postgres", planned["postgres"], running, allowed) == [
        "env names: extra [], missing ['PGDATA']"
    ]


def test_only_the_listed_local_substitutions_are_allowed(stack: Stack) -> None:
    allowed = lifecycle.substitutions(stack)
    assert allowed["directus"]["env"] == {
        "PUBLIC_URL",
        "ADMIN_EMAIL",
        "STORAGE_S3_ENDPOINT",
        "STORAGE_S3_FORCE_PATH_STYLE",
        "AWS_SHARED_CREDENTIALS_FILE",
    }
    assert allowed["postgres"]["env"] == {"AWS_ENDPOINT_URL", "AWS_SHARED_CREDENTIALS_FILE"}
    assert allowed["redis"] == {"env": set(), "mounts": set(), "labels": set()}
    assert allowed["postgres"]["labels"] == {"quintas.image"}  # the ECR repository becomes a local name
    assert "quintas.config-digest" in allowed["prometheus"]["labels"]
    assert "quintas.config-digest" not in allowed["blackbox-exporter"]["labels"]


def test_the_rehearsal_alert_is_the_stacks_own_with_a_shorter_for(stack: Stack) -> None:
    rule_file = stack.root / compose.CONFIG_DIR / "prometheus/etc/prometheus/rules" / checks.REHEARSAL_RULES
    (copy,) = yaml.safe_load(rule_file.read_text())["groups"][0]["rules"]
    own = yaml.safe_load(Path("services/prometheus/rules/availability.yml").read_text())
    (original,) = [r for g in own["groups"] for r in g["rules"] if r.get("alert") == checks.ALERT]
    assert copy == {**original, "for": checks.ALERT_FOR}
    mounts = stack.document["services"]["prometheus"]["volumes"]
    assert any(m.endswith(f"/etc/prometheus/rules/{checks.REHEARSAL_RULES}:ro") for m in mounts)


def test_related_services_are_dependencies_both_ways_and_shared_volumes(stack: Stack) -> None:
    related = lifecycle.related(stack.document)
    # Stopping postgres takes Directus down, and through it the frontend; the backup job shares its data.
    assert {"directus", "frontend", "backup", "postgres-exporter"} <= related["postgres"]
    assert {"postgres", "redis", "frontend"} <= related["directus"]
    assert "node-exporter" in related["backup"]  # the textfile volume
    assert related["node-exporter"] == {"backup"}
    assert related["blackbox-exporter"] == set()
    assert "postgres" not in related["redis"]
    assert all(name not in others for name, others in related.items())
    assert all(name in related[other] for name, others in related.items() for other in others)


def test_named_volumes_are_told_from_host_paths_and_rendered_files() -> None:
    service = {"volumes": ["data:/d", "/proc:/host/proc:ro", "./config/x.yml:/x:ro", "/anonymous", {"source": "v"}]}
    assert lifecycle._named_volumes(service) == {"data", "v"}


def test_lifecycle_checks_overlap_only_for_unrelated_services(stack: Stack) -> None:
    """Every replace:/stop: check runs once, never beside a related service's, at most `workers` at once."""
    spans: dict[str, tuple[float, float]] = {}
    lock = threading.Lock()

    def check(name: str, _step: object) -> None:
        began = time.monotonic()
        time.sleep(0.05)
        with lock:
            spans[name] = (began, time.monotonic())

    specs = list(stack.specs.values())
    lifecycle.replace_and_stop(stack, specs, check, workers=3)
    expected = {f"replace:{s.name}" for s in specs if s.replacement == "create-first"}
    expected |= {f"stop:{s.name}" for s in specs if s.replacement == "delete-first"}
    assert set(spans) == expected
    related = lifecycle.related(stack.document)

    def overlap(a: str, b: str) -> bool:
        return spans[a][0] < spans[b][1] and spans[b][0] < spans[a][1]

    service = {name: name.split(":", 1)[1] for name in spans}
    pairs = [(a, b) for a in spans for b in spans if a < b and overlap(a, b)]
    assert pairs, "nothing ran at the same time"
    assert not [(a, b) for a, b in pairs if service[b] in related[service[a]]]
    at_once = max(sum(spans[b][0] <= spans[a][0] < spans[b][1] for b in spans) for a in spans)
    assert at_once <= 3


def test_the_report_keeps_its_order_whatever_order_checks_finish_in() -> None:
    report = Report()
    for name in ("alert-delivered", "stop:redis", "replace:frontend", "stop:postgres"):
        report.add(name, True, "", 1.0)
    report.order(["replace:frontend", "stop:postgres", "stop:redis"])
    assert [c.name for c in report.checks] == ["alert-delivered", "replace:frontend", "stop:postgres", "stop:redis"]


class _Project:
    """A stand-in Stack for the lifecycle checks: records when Compose runs and containers are removed."""

    def __init__(self, stack: Stack) -> None:
        self.document, self.specs = stack.document, stack.specs
        self.changes: list[tuple[float, float]] = []  # Compose calls and `docker rm`, (start, end)
        self.lock = threading.Lock()
        self.ids: dict[str, list[str]] = {name: [f"{name}-1"] for name in stack.specs}

    def change(self) -> None:
        began = time.monotonic()
        time.sleep(0.03)
        with self.lock:
            self.changes.append((began, time.monotonic()))

    def compose(self, *args: str, **_: object) -> str:
        self.change()
        name = args[-1]
        with self.lock:
            self.ids[name] = [*self.ids[name], f"{name}-{len(self.ids[name]) + 1}"][-2:]
        return ""

    def container(self, name: str) -> str:
        return self.ids[name][-1]

    def container_ids(self, name: str) -> list[str]:
        return list(self.ids[name])

    def wait_healthy(self, _container: str, _timeout: float) -> None:
        time.sleep(0.05)

    def inspect(self, _container: str) -> dict[str, Any]:
        return {"State": {"Running": True, "ExitCode": 0, "Health": {"Status": "healthy"}}}


def test_concurrent_lifecycle_checks_take_turns_with_compose_and_removals(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docker-compose fails on a container another check removes while it lists the project's."""
    project = _Project(stack)

    def docker(argv: list[str], **_: object) -> str:
        if argv[:2] == ["docker", "rm"]:
            project.change()
        return ""

    monkeypatch.setattr(lifecycle, "run", docker)
    monkeypatch.setattr(lifecycle.subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 0, "", ""))
    results: dict[str, str] = {}
    specs = list(stack.specs.values())
    lifecycle.replace_and_stop(project, specs, lambda name, step: results.setdefault(name, step()))  # type: ignore[arg-type]
    assert len(results) == len(specs) and all(results.values())
    spans = sorted(project.changes)
    assert not [(a, b) for a, b in itertools.pairwise(spans) if b[0] < a[1]], "two project changes at once"
