"""Shared fixtures: one run of the real program per stack on the simulated engine.

The tests come in layers (README: "Tests"): tests/unit (pure functions and files),
tests/program (runs of the program on the simulated engine), tests/integration
(real tools and servers: PostgreSQL, moto, promtool, the served policy pack...)
and tests/helpers. Everything under tests/integration, and each test elsewhere that
drives a real tool or process, is marked `slow`; `make check` leaves those out.

Each stack runs once per session (`shipped`) because every test only reads the
run; a test that needs different settings calls `simulate(stack, **overrides)` for
a run of its own.
"""

from __future__ import annotations

import functools
import shutil
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


def simulate(stack: str, program: engine.Program | None = None, **overrides: Any) -> engine.Run:
    return engine.run(stack, program=program, overrides=overrides)


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
