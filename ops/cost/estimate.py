"""The monthly cost of a stack from the resources a simulated run of its program records.

The pricing itself (`policies/rules/pricing`) is pure Python shared with the
policy pack; this module feeds it a run's resources, each with its provider's
region, and the stack's settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ops.sim.engine import PROJECT  # the engine imports pulumi only inside a run
from policies.rules.pricing.estimate import Estimate, estimate_resources
from policies.rules.pricing.model import Item

if TYPE_CHECKING:
    from components.config import StackConfig
    from ops.sim import engine


def items_from_run(run: engine.Run, default_region: str) -> list[Item]:
    """The run's cloud resources, each with the region of its provider."""
    regions = {r.urn: r.inputs.get("region") for r in run.resources if r.type.startswith("pulumi:providers:")}
    items = []
    for r in run.resources:
        if not r.custom:
            continue
        provider_urn = r.provider.rsplit("::", 1)[0] if r.provider else ""
        region = regions.get(provider_urn) or default_region
        items.append(Item(r.type, r.name, r.inputs, str(region)))
    return items


class CostSettings(Protocol):
    """The settings the estimate reads: StackConfig has them, and so has RunSettings."""

    @property
    def region(self) -> str: ...
    @property
    def environment(self) -> str: ...
    @property
    def snapshot_retention_days(self) -> int: ...
    @property
    def monthly_budget_usd(self) -> float: ...


@dataclass(frozen=True)
class RunSettings:
    region: str
    environment: str
    snapshot_retention_days: int
    monthly_budget_usd: float


def settings_of(run: engine.Run) -> RunSettings:
    """The settings a run was given (StackConfig validated them when the program loaded them)."""

    def get(key: str, default: str) -> str:
        return run.config.get(f"{PROJECT}:{key}", default)

    return RunSettings(
        region=run.config.get("aws:region", "us-east-1"),
        environment="prod" if get("environment", "staging") == "prod" else "staging",
        snapshot_retention_days=int(get("snapshotRetentionDays", "7")),
        monthly_budget_usd=float(get("monthlyBudgetUsd", "0")),
    )


def estimate(run: engine.Run, config: CostSettings | None = None) -> Estimate:
    """The estimate of a run; without `config`, the settings come from the run itself."""
    config = config or settings_of(run)
    return estimate_resources(
        items_from_run(run, config.region),
        region=config.region,
        environment=config.environment,
        stack=run.stack,
        settings={"snapshot_retention_days": config.snapshot_retention_days},
    )


def run_with_config(
    stack: str, overrides: Mapping[str, Any] | None = None, program: engine.Program | None = None
) -> tuple[engine.Run, StackConfig]:
    """One run of the real program (or `program`), and the StackConfig of the run's settings."""
    from ops.sim import engine

    return engine.run(stack, program=program, overrides=overrides), engine.stack_config(stack, overrides)
