"""The simulated engine: runs the real Pulumi program in-process, with no cloud.

It reads one stack's settings from `Pulumi.<stack>.yaml`, runs `__main__.py`
(or a given program) on `pulumi.runtime.set_mocks`, and records every resource
the program registers: type, name, URN, parent, inputs, outputs and the
resource options that matter for data safety. Provider outputs come from
`ops.sim.cloud`, a table of realistic values per resource type; a type or invoke
with no entry there fails the run and names the type.

Each run happens on its own thread with a fresh event loop, so the Pulumi
runtime's context variables (settings, root stack, config) never leak from one
run into the next.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import runpy
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ops.sim import settings_file
from ops.sim.model import (
    PROJECT,
    REGISTERED_ATTR,
    SECRET_SIG,
    SECRET_SIG_KEY,
    SECRET_TEXT,
    EngineError,
    Resource,
    Run,
    Secret,
    SettingsFileError,
    decode,
    plain_strings,
    redact,
    registered_before,
    reveal,
)

if TYPE_CHECKING:
    from components.config import StackConfig

__all__ = [
    "PROJECT",
    "REGISTERED_ATTR",
    "SECRET_SIG",
    "SECRET_SIG_KEY",
    "SECRET_TEXT",
    "EngineError",
    "Program",
    "Resource",
    "Run",
    "Secret",
    "SettingsFileError",
    "available_stacks",
    "decode",
    "load_stack_settings",
    "main_program",
    "plain_strings",
    "redact",
    "registered_before",
    "report_failure",
    "reveal",
    "run",
    "stack_file",
]

ROOT = Path(__file__).resolve().parents[2]


def report_failure(exc: BaseException, stack: str, err: TextIO, bad_input: tuple[type[BaseException], ...] = ()) -> int:
    """Write why a run of `stack` failed and return the verb's exit code.

    2 for bad input (invalid settings, a missing or broken stack file, and the
    caller's own `bad_input` types), 1 for an engine or program error.
    """
    from components.config import ConfigError  # imports pulumi: only when a run failed

    if isinstance(exc, (ConfigError, SettingsFileError, *bad_input)):
        err.write(f"error: {exc}\n")
        return 2
    if isinstance(exc, EngineError):
        err.write(f"error: {exc}\n")
        return 1
    trace = "".join(traceback.format_exception(exc))
    err.write(f"error: the program failed on stack {stack!r}:\n{trace}")
    return 1


# ----------------------------------------------------------------- stack settings


def stack_file(stack: str, root: Path | None = None) -> Path:
    return (root or ROOT) / f"Pulumi.{stack}.yaml"


def available_stacks(root: Path | None = None) -> list[str]:
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in (root or ROOT).glob("Pulumi.*.yaml"))


def load_stack_settings(stack: str, root: Path | None = None) -> tuple[dict[str, str], list[str]]:
    """Config as the CLI hands it to the program (ops/sim/settings_file.py), and its secret keys."""
    if not settings_file.STACK_NAME.fullmatch(stack):
        raise SettingsFileError(f"stack name {stack!r}: letters, digits, '-', '_' and '.' only, at most 100 characters")
    path = stack_file(stack, root)
    if not path.is_file():
        known = ", ".join(available_stacks(root)) or "none"
        raise SettingsFileError(f"no settings file {path.name} for stack {stack!r}; stacks with a file: {known}")
    return settings_file.read(path, settings_file.project_name(root or ROOT, PROJECT))


# ----------------------------------------------------------------- the run


Program = Callable[[], None]

# The Pulumi runtime keeps process-wide state (the mocks, the root stack), so two
# runs at once would trample each other: callers on several threads take turns.
_one_run_at_a_time = threading.Lock()


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for a run, and restore it as it was.

    A run allocates a few hundred thousand objects (the SDK's type annotations,
    resources, outputs) that stay reachable until it ends, so the collector would
    walk them hundreds of times and free nearly nothing: on a prod plan that was
    0.7 s in ~660 collections, to keep the peak at 143 MB instead of 146 MB.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def main_program(root: Path) -> Program:
    def program() -> None:
        if str(root) not in sys.path:
            sys.path.insert(0, str(root))
        runpy.run_path(str(root / "__main__.py"), run_name="__main__")

    return program


def run(
    stack: str,
    program: Program | None = None,
    overrides: Mapping[str, Any] | None = None,
    root: Path | None = None,
) -> Run:
    """Run the program for `stack` on the simulated engine and return what it registered.

    `overrides` replaces settings (keys with or without the project prefix; values
    as they would be written in the YAML file; None removes a key). Exceptions
    raised by the program (ConfigError among them) propagate unchanged.
    """
    root = root or ROOT
    config, secret_keys = load_stack_settings(stack, root)
    for key, value in (overrides or {}).items():
        full = key if ":" in key else f"{PROJECT}:{key}"
        if value is None:
            config.pop(full, None)
        else:
            config[full] = value if isinstance(value, str) else json.dumps(value)
    region = config.get("aws:region", "us-east-1")
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["run"] = _run_in_fresh_context(stack, program or main_program(root), config, secret_keys, region)
        except BaseException as exc:  # noqa: BLE001 re-raised on the caller's thread
            result["error"] = exc

    thread = threading.Thread(target=target, name=f"simulated-engine-{stack}")
    with _one_run_at_a_time, _collector_paused():
        thread.start()
        thread.join()
    if "error" in result:
        raise result["error"]
    return result["run"]


def stack_config(stack: str, overrides: Mapping[str, Any] | None = None, root: Path | None = None) -> StackConfig:
    """The stack's validated settings (components.config.StackConfig) without running the program:
    a run whose only step is StackConfig.load(), a few milliseconds. Raises ConfigError as the program would."""
    from components.config import StackConfig

    found: list[StackConfig] = []
    run(stack, program=lambda: found.append(StackConfig.load()), overrides=overrides, root=root)
    return found[0]


def _run_in_fresh_context(
    stack: str, program: Program, config: dict[str, str], secret_keys: list[str], region: str
) -> Run:
    import pulumi
    from pulumi.runtime import settings
    from pulumi.runtime.stack import run_in_stack

    from ops.sim.cloud import SimulatedCloud
    from ops.sim.monitor import RecordingMonitor

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    # A failed registration leaves its future unread; the run re-raises that error
    # itself, so asyncio's "never retrieved" report would only print it twice.
    loop.set_exception_handler(_quiet_unretrieved)
    cloud = SimulatedCloud(stack=stack, region=region)
    monitor = RecordingMonitor(cloud)
    try:
        pulumi.runtime.set_all_config(config, secret_keys)
        pulumi.runtime.set_mocks(cloud, project=PROJECT, stack=stack, preview=False, monitor=monitor)
        # set_mocks registers a root stack of its own; the program gets a fresh one
        # from run_in_stack so that its exports are registered as the CLI would.
        settings.ROOT.set(None)
        # As pulumi.runtime.mocks.test does: start with no RPC or output left from an earlier run.
        live: Any = settings.SETTINGS  # its context properties are untyped in the SDK
        live.rpc_manager.clear()
        live.outputs.clear()
        loop.run_until_complete(run_in_stack(program))
        if cloud.failures:
            raise EngineError("; ".join(cloud.failures))
        return Run(stack=stack, resources=monitor.recorded(), outputs=monitor.stack_outputs, config=config)
    except BaseException as exc:
        # Tests check that a failed run (bad settings above all) registered nothing.
        setattr(exc, REGISTERED_ATTR, monitor.recorded())
        raise
    finally:
        _close(loop)


def _quiet_unretrieved(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    if context.get("message") != "Future exception was never retrieved":
        loop.default_exception_handler(context)


def _close(loop: asyncio.AbstractEventLoop) -> None:
    """Close the loop as asyncio.run does, so a failed run leaves no task or worker behind."""
    pending = asyncio.all_tasks(loop)
    for task in pending:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_default_executor())
    loop.close()
    asyncio.set_event_loop(None)
