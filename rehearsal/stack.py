"""The rehearsed stack: the `ops compose` render brought up with the real docker-compose.

Everything runs inside one Compose project on the containers' own networks;
the only published ports are on 127.0.0.1. `Stack.down()` removes every
container, network and volume the project made, including the extra containers
the checks start (they carry the project's label), whatever happened before.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from components.config import StackConfig
from components.workload.services import ServiceSpec
from ops.local import compose

PROJECT = "quintas-rehearsal"
PROJECT_LABEL = "com.docker.compose.project"
REPO = Path(__file__).resolve().parent.parent


class RehearsalError(Exception):
    """A step of the rehearsal could not run (a tool, an image, a container)."""


def require(tool: str, install: str) -> str:
    path = shutil.which(tool)
    if not path:
        raise RehearsalError(f"{tool} not found: install it with `{install}` (scripts/install-system-deps.sh does)")
    return path


def image_exists(ref: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", ref], capture_output=True, check=False).returncode == 0


def run(argv: Sequence[str], *, timeout: float = 300, check: bool = True, input: str | None = None) -> str:
    result = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, input=input)
    if check and result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-5:]
        raise RehearsalError(f"{' '.join(argv[:4])} ... exited {result.returncode}: " + " | ".join(tail))
    return result.stdout


@dataclass
class Stack:
    """One stack's Compose project under `root` (build/rehearsal/<stack>)."""

    config: StackConfig
    root: Path
    log: Callable[[str], None] = print
    specs: dict[str, ServiceSpec] = field(default_factory=dict)
    document: dict[str, Any] = field(default_factory=dict)
    started_at: float = 0.0  # when `up` began
    # The engine's health_status events of the project, read as they happen: the engine
    # keeps only its last 256 events, and every health check adds several.
    health_events: list[dict[str, Any]] = field(default_factory=list)
    _watcher: subprocess.Popen[str] | None = None
    # Volumes that were on the engine before `up`: an anonymous volume (an image's VOLUME
    # line that no mount covers) carries no project label, so `down` removes the dangling
    # ones that appeared since, and never one that was already there.
    volumes_before: frozenset[str] | None = None

    def render(self, extra_files: dict[str, str] | None = None) -> None:
        """Write docker-compose.yml, the config files and fresh local secrets, as `ops compose` does."""
        if self.root.exists():
            shutil.rmtree(self.root)
        self.root.mkdir(parents=True)
        (self.root / "services").symlink_to(REPO / "services")
        compose.init_secrets(self.root, io.StringIO())
        for path, content in {**compose.config_files(self.config), **(extra_files or {})}.items():
            (self.root / path).parent.mkdir(parents=True, exist_ok=True)
            (self.root / path).write_text(content)
        self.document = compose.render(self.config)
        if extra_files:
            self._mount_extra(extra_files)
        (self.root / "docker-compose.yml").write_text(yaml.safe_dump(self.document, sort_keys=False))
        self.specs = {s.name: s for s in compose.local_specs(self.config)}

    def _mount_extra(self, extra_files: dict[str, str]) -> None:
        for rel in extra_files:
            parts = Path(rel).relative_to(compose.CONFIG_DIR).parts
            service, target = parts[0], "/" + "/".join(parts[1:])
            self.document["services"][service].setdefault("volumes", []).append(f"./{rel}:{target}:ro")

    def compose(self, *args: str, timeout: float = 600, check: bool = True) -> str:
        tool = require("docker-compose", "apt-get install docker-compose")
        return run(
            [tool, "-p", PROJECT, "-f", str(self.root / "docker-compose.yml"), *args], timeout=timeout, check=check
        )

    def up(self, services: Sequence[str]) -> None:
        """Start `services`; every image must be here already: Compose would otherwise pull from a registry."""
        wanted = {n: self.document["services"][n]["image"] for n in services}
        missing = sorted(f"{n} ({ref})" for n, ref in wanted.items() if not image_exists(ref))
        if missing:
            raise RehearsalError(f"no local image for {', '.join(missing)}: build the stand-ins first")
        self.volumes_before = frozenset(run(["docker", "volume", "ls", "-q"], check=False).split())
        self.started_at = time.time()
        self._watch_health()
        self.compose("up", "-d", "--no-build", *services, timeout=900)

    def _watch_health(self) -> None:
        argv = ["docker", "events", "--filter", "type=container", "--filter", "event=health_status"]
        argv += ["--filter", f"label={PROJECT_LABEL}={PROJECT}", "--format", "{{json .}}"]
        self._watcher = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        stream = self._watcher.stdout
        assert stream is not None
        threading.Thread(
            target=lambda: [self.health_events.append(json.loads(line)) for line in stream], daemon=True
        ).start()

    def down(self) -> None:
        """Remove everything of the project: containers (also those the checks started), networks, volumes."""
        if self._watcher:
            self._watcher.terminate()
            self._watcher.wait(timeout=10)
        docker = require("docker", "apt-get install docker.io")
        ids = run([docker, "ps", "-aq", "--filter", f"label={PROJECT_LABEL}={PROJECT}"], check=False).split()
        if ids:
            run([docker, "rm", "-f", "-v", *ids], check=False, timeout=300)
        if (self.root / "docker-compose.yml").exists():
            self.compose("down", "-v", "--remove-orphans", "--timeout", "5", check=False)
        for kind in ("network", "volume"):
            left = run([docker, kind, "ls", "-q", "--filter", f"label={PROJECT_LABEL}={PROJECT}"], check=False).split()
            if left:
                run([docker, kind, "rm", *left], check=False)
        if self.volumes_before is not None:
            dangling = run([docker, "volume", "ls", "-q", "--filter", "dangling=true"], check=False).split()
            new = [v for v in dangling if v not in self.volumes_before]
            if new:
                run([docker, "volume", "rm", *new], check=False)

    def container_ids(self, service: str, all_states: bool = False) -> list[str]:
        argv = ["docker", "ps", "-q", "--no-trunc", "--filter", f"label={PROJECT_LABEL}={PROJECT}"]
        argv += ["--filter", f"label=com.docker.compose.service={service}"]
        if all_states:
            argv.insert(2, "-a")
        return run(argv).split()

    def container(self, service: str) -> str:
        ids = self.container_ids(service)
        if not ids:
            raise RehearsalError(f"{service}: no running container")
        return ids[0]

    def inspect(self, container: str) -> dict[str, Any]:
        return json.loads(run(["docker", "inspect", container]))[0]

    def exec(self, service: str, *argv: str, user: str | None = None, timeout: float = 120, check: bool = True) -> str:
        cmd = ["docker", "exec"] + (["-u", user] if user else []) + [self.container(service), *argv]
        return run(cmd, timeout=timeout, check=check)

    def wait_healthy(self, container: str, timeout: float) -> dict[str, Any]:
        """Wait for the container's own health check; returns its inspect data once healthy."""
        deadline = time.monotonic() + timeout
        while True:
            data = self.inspect(container)
            status = data["State"].get("Health", {}).get("Status")
            if status == "healthy":
                return data
            if not data["State"]["Running"] or time.monotonic() > deadline:
                raise RehearsalError(f"{data['Name'].lstrip('/')}: {status or 'no health'} after {timeout:.0f} s")
            time.sleep(1)
