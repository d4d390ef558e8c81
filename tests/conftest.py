"""Shared fixtures: one run of the real program per stack on the simulated engine.

The tests come in layers (README: "Tests"): tests/unit (pure functions and files),
tests/program (runs of the program on the simulated engine), tests/integration
(real tools and servers: PostgreSQL, moto, promtool, the served policy pack...)
and tests/helpers. Everything under tests/integration, and each test elsewhere that
drives a real tool or process, is marked `slow`; `make check` leaves those out.

Each stack runs once per session (`shipped`) because every test only reads the
run; a test that needs different settings calls `simulate(stack, **overrides)`,
shared likewise by every test asking for the same settings, and a test that drives
an operator tool uses `shared_runs` so that the tool reads those runs too.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import json
import os
import pickle
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ops.sim import engine

STACKS = ("staging", "prod")
INTEGRATION = Path(__file__).parent / "integration"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if INTEGRATION in item.path.parents:
            item.add_marker(pytest.mark.slow)


# The engine's own run, kept before `shared_runs` puts the session's runs in its place.
_run_program = engine.run
_RUNS: dict[tuple[str, str], engine.Run] = {}


def simulate(stack: str, program: engine.Program | None = None, **overrides: Any) -> engine.Run:
    """A run of `program` for `stack`; runs of the real program are shared by the session.

    The same settings make the same run (tests/program/test_graph.py holds that) and tests
    only read a run, so the real program runs once per (stack, overrides) in the session:
    under xdist the first worker to need a run pickles it for the others (`_SHARED_DIR`).
    A test that uses `monkeypatch` may have changed what the program reads (a module
    attribute, a file, the engine's root), so it gets runs of its own.
    """
    if program is not None or _patching:
        return _run_program(stack, program=program, overrides=overrides)
    key = (stack, json.dumps(overrides, sort_keys=True))
    if key not in _RUNS:
        _RUNS[key] = _run_across_workers(key, lambda: _run_program(stack, overrides=overrides))
    return _RUNS[key]


# A directory every xdist worker of this session sees (None without xdist): set by `_share_runs`.
_SHARED_DIR: Path | None = None


def _run_across_workers(key: tuple[str, str], make: Callable[[], engine.Run]) -> engine.Run:
    """`make()` once for the session: a worker holding the key's lock runs it, the others load its pickle."""
    if _SHARED_DIR is None:
        return make()
    name = hashlib.sha256(repr(key).encode()).hexdigest()[:20]
    done = _SHARED_DIR / f"{name}.pickle"
    with open(_SHARED_DIR / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also on an error
        if done.exists():
            return pickle.loads(done.read_bytes())
        run = make()  # a run that raises is not kept: the next asker runs it again
        partial = done.with_suffix(".partial")
        partial.write_bytes(pickle.dumps(run))
        partial.replace(done)
        return run


@pytest.fixture(scope="session", autouse=True)
def _share_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Under xdist, the workers' base temp directories share a parent that is new for each session."""
    global _SHARED_DIR
    if os.environ.get("PYTEST_XDIST_WORKER"):
        _SHARED_DIR = tmp_path_factory.getbasetemp().parent / "shared-runs"
        _SHARED_DIR.mkdir(exist_ok=True)
    yield
    _SHARED_DIR = None


def fresh(stack: str, **overrides: Any) -> engine.Run:
    """A new run of the real program, for a test about runs themselves (that two runs agree)."""
    return _run_program(stack, overrides=overrides)


_patching = False


@pytest.fixture(autouse=True)
def _own_runs_when_patching(request: pytest.FixtureRequest) -> Iterator[None]:
    global _patching
    _patching = "monkeypatch" in request.fixturenames
    yield
    _patching = False


@pytest.fixture
def shared_runs() -> Iterator[None]:
    """The operator tools a test drives (`ops plan`, `ops cost`...) read the session's runs of the
    real program instead of running it again; a run of another program or root still runs.
    (It patches by hand: `monkeypatch` is what marks a test as changing what the program reads.)"""

    def run(
        stack: str, program: engine.Program | None = None, overrides: Any = None, root: Path | None = None
    ) -> engine.Run:
        if program is None and root is None:  # a test that moves engine.ROOT uses monkeypatch: a run of its own
            return simulate(stack, **(overrides or {}))
        return _run_program(stack, program=program, overrides=overrides, root=root)

    engine.run = run
    try:
        yield
    finally:
        engine.run = _run_program


@functools.cache
def shipped(stack: str) -> engine.Run:
    """The run of a shipped stack with its own settings, shared by the whole session."""
    return simulate(stack)


@functools.cache
def staging_with_alb() -> engine.Run:
    """Staging in prod's design (an ALB of its own, running always, no zone): what the ALB's tests check
    besides prod, since the shipped staging has no load balancer (edge: host)."""
    return simulate("staging", edge="alb", schedule="always", route53ZoneId=None)


@pytest.fixture(scope="session")
def staging() -> engine.Run:
    return shipped("staging")


@pytest.fixture(scope="session")
def staging_alb() -> engine.Run:
    return staging_with_alb()


@pytest.fixture(scope="session", params=STACKS)
def alb_run(request: pytest.FixtureRequest) -> engine.Run:
    """Each stack with an ALB: prod as shipped, staging with edge: alb."""
    return shipped("prod") if request.param == "prod" else staging_with_alb()


@pytest.fixture(scope="session")
def prod() -> engine.Run:
    return shipped("prod")


@pytest.fixture(scope="session", params=STACKS)
def stack_run(request: pytest.FixtureRequest) -> engine.Run:
    return shipped(request.param)


def require_tool(name: str, install: str) -> str:
    """The path of a command-line tool the test drives, or a failure that says how to install it."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed; install it with: {install} (or run `make system-deps`)")
    return path


# ----------------------------------------------------------------- containers (issue 4)


@pytest.fixture(scope="session")
def containers_staging() -> engine.Run:
    """The container stack on staging, wired to stand-ins for the platform's outputs."""
    from tests.helpers.stand_in import containers_program

    return simulate("staging", containers_program())


@pytest.fixture(scope="session")
def containers_prod() -> engine.Run:
    from tests.helpers.stand_in import containers_program

    return simulate("prod", containers_program())
