"""The rehearsal's lifecycle checks: replacements as `pulumi up` makes them, and the render against the plan.

- `replace:<service>` (create-first): a second container of the same spec
  starts and turns healthy while the first still runs; then the first stops.
- `stop:<service>` (delete-first): the container stops within its grace period
  on its own stop signal, and a new one on the same volumes turns healthy
  (postgres: without crash recovery).
- `compose-equals-plan`: what runs equals the Container inputs of the plan,
  except for the local substitutions listed in `substitutions()`.

`replace_and_stop` runs the replace: and stop: checks of unrelated services at the
same time (`related()` says which are related); each still asserts the same.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from components.workload.catalogue import PRIVATE_IMAGES
from components.workload.monitoring_config import PROMETHEUS_RULES
from components.workload.services import CONFIG_DIGEST_LABEL, ServiceSpec, duration_seconds, secret_path
from ops.local import compose
from ops.sim import engine
from rehearsal.checks import REHEARSAL_RULES, CheckFailed
from rehearsal.stack import Stack, run

CONTAINER = "docker:index/container:Container"
# What postgres logs when it starts on a directory that was not shut down cleanly.
CRASH_RECOVERY = ("was not properly shut down", "automatic recovery in progress", "database system was interrupted")
# At most this many replace:/stop: checks at once: most of their time is waiting for health
# checks, but a starting Directus or postgres needs the CPU (2 cores on the build machine).
LIFECYCLE_WORKERS = 4

Check = Callable[[str, Callable[[], str]], None]  # Report.check: runs a step, records it
# docker-compose lists and inspects every container of the project: one that another check
# removes meanwhile fails it ("No such container"). So the checks' Compose calls and container
# removals take turns; the waits for health checks and stop signals still overlap.
PROJECT_CHANGES = threading.Lock()


def replace_create_first(stack: Stack, spec: ServiceSpec) -> str:
    first = stack.container(spec.name)
    with PROJECT_CHANGES:
        stack.compose("up", "-d", "--no-deps", "--no-recreate", "--scale", f"{spec.name}=2", spec.name)
    second = next(c for c in stack.container_ids(spec.name) if c != first)
    assert spec.health is not None
    began = time.monotonic()
    stack.wait_healthy(second, spec.health.seconds_to_healthy() + 30)
    took = time.monotonic() - began
    if not stack.inspect(first)["State"]["Running"]:
        raise CheckFailed(f"the first {spec.name} container stopped before the second turned healthy")
    run(["docker", "stop", "-t", str(spec.stop_grace_seconds), first])
    with PROJECT_CHANGES:
        run(["docker", "rm", "-v", first])
    if stack.inspect(second)["State"]["Health"]["Status"] != "healthy":
        raise CheckFailed(f"the second {spec.name} container is not healthy once the first is gone")
    return f"second container healthy after {took:.0f} s beside the first; first stopped and removed"


def stop_delete_first(stack: Stack, spec: ServiceSpec) -> str:
    old = stack.container(spec.name)
    began = time.monotonic()
    run(["docker", "stop", "-t", str(spec.stop_grace_seconds), old], timeout=spec.stop_grace_seconds + 60)
    took = time.monotonic() - began
    code = stack.inspect(old)["State"]["ExitCode"]
    if took >= spec.stop_grace_seconds or code == 137:
        raise CheckFailed(f"not stopped by its stop signal within {spec.stop_grace_seconds} s (exit {code})")
    with PROJECT_CHANGES:
        stack.compose("up", "-d", "--no-deps", "--force-recreate", spec.name)
    new = stack.container(spec.name)
    assert spec.health is not None
    stack.wait_healthy(new, spec.health.seconds_to_healthy() + 30)
    detail = f"stopped in {took:.1f} s (grace {spec.stop_grace_seconds} s, exit {code}); replacement healthy"
    if spec.name == "postgres":
        logs = subprocess.run(["docker", "logs", new], capture_output=True, text=True, timeout=60, check=False)
        log = logs.stdout + logs.stderr
        found = [line for line in log.splitlines() if any(m in line for m in CRASH_RECOVERY)]
        if found:
            raise CheckFailed(f"postgres started with crash recovery: {found[0]}")
        detail += ", started without crash recovery"
    return detail


def related(document: Mapping[str, Any]) -> dict[str, set[str]]:
    """Per service of a Compose document, the services whose replacement must not overlap with its own.

    Related are the services it depends on and those that depend on it, directly or through
    others (`depends_on`: stopping postgres takes Directus, and through it the frontend, down
    with it), and the services sharing one of its named volumes (postgres and the backup
    job share the data directory; the backup job and node-exporter the textfile directory).
    """
    services: Mapping[str, Any] = document["services"]
    needs: dict[str, set[str]] = {name: set(service.get("depends_on") or ()) for name, service in services.items()}

    def reach(start: str, edges: Mapping[str, set[str]]) -> set[str]:
        seen: set[str] = set()
        todo = list(edges.get(start, ()))
        while todo:
            name = todo.pop()
            if name not in seen:
                seen.add(name)
                todo += edges.get(name, ())
        return seen

    needed_by: dict[str, set[str]] = {name: {o for o, deps in needs.items() if name in deps} for name in services}
    volumes = {name: _named_volumes(service) for name, service in services.items()}
    out: dict[str, set[str]] = {}
    for name in services:
        sharing = {other for other in services if other != name and volumes[name] & volumes[other]}
        out[name] = (reach(name, needs) | reach(name, needed_by) | sharing) - {name}
    return out


def _named_volumes(service: Mapping[str, Any]) -> set[str]:
    """The named volumes a Compose service mounts (not host paths or the rendered files)."""
    names: set[str] = set()
    for volume in service.get("volumes") or ():
        if isinstance(volume, dict):
            source = volume.get("source", "") if volume.get("type", "volume") == "volume" else ""
        else:
            parts = str(volume).split(":")
            source = parts[0] if len(parts) > 1 else ""  # a lone path is an anonymous volume
        if source and not source.startswith(("/", ".", "~")):
            names.add(source)
    return names


def replace_and_stop(
    stack: Stack, specs: Iterable[ServiceSpec], check: Check, workers: int = LIFECYCLE_WORKERS
) -> None:
    """`replace:<service>` for each create-first and `stop:<service>` for each delete-first spec.

    Unrelated services (`related()`) are replaced at the same time, at most `workers` at once;
    a check never runs beside one of a related service. Those related to the most others start
    first, so the independent ones fill the gaps. `check` records each under its own name
    and time (Report.check, which must be safe to call from several threads).
    """
    tasks: list[tuple[str, str, Callable[[], str]]] = []
    for spec in specs:
        if spec.replacement == "create-first":
            tasks.append((f"replace:{spec.name}", spec.name, lambda spec=spec: replace_create_first(stack, spec)))
        elif spec.replacement == "delete-first":
            tasks.append((f"stop:{spec.name}", spec.name, lambda spec=spec: stop_delete_first(stack, spec)))
    apart = related(stack.document)
    names = {service for _, service, _ in tasks}
    pending = sorted(tasks, key=lambda t: -len(apart.get(t[1], set()) & names))  # stable: ties keep their order
    running: dict[Future[None], str] = {}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        while pending or running:
            for task in list(pending):
                busy = set(running.values())
                if len(running) >= workers:
                    break
                if task[1] in busy or apart.get(task[1], set()) & busy:
                    continue
                pending.remove(task)
                running[pool.submit(check, task[0], task[2])] = task[1]
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                del running[future]
                future.result()


# compose-equals-plan


def substitutions(stack: Stack) -> dict[str, dict[str, Any]]:
    """Per service, the differences a local run is allowed: env names, mounts, labels."""
    out: dict[str, dict[str, Any]] = {}
    for name in stack.specs:
        env = set(compose.LOCAL_ENV.get(name, {}))
        mounts: set[str] = set()
        if name in compose.AWS_CLIENTS:
            env.add("AWS_SHARED_CREDENTIALS_FILE")
            mounts.add(secret_path(compose.AWS_CREDENTIALS))
        labels = {"quintas.image"} if stack.specs[name].image.local else set()
        if name in ("prometheus", "alertmanager"):  # no public probes; SNS at the local API server
            labels.add(CONFIG_DIGEST_LABEL)
        if name == "prometheus":  # the rehearsal's copy of the alert it fires, with a shorter `for`
            mounts.add(f"{PROMETHEUS_RULES}/{REHEARSAL_RULES}")
        # Host routes are at <service>.localhost here.
        labels |= {k for k, v in _compose_labels(stack, name).items() if ".rule" in k and "Host(" in v}
        out[name] = {"env": env, "mounts": mounts, "labels": labels}
    return out


def _compose_labels(stack: Stack, name: str) -> dict[str, str]:
    return stack.document["services"][name].get("labels", {})


def planned(result: engine.Run) -> dict[str, dict[str, Any]]:
    """The Container inputs of a plan (`ops plan`'s run), as comparable values per service."""
    out: dict[str, dict[str, Any]] = {}
    for r in result.of_type(CONTAINER):
        inputs = engine.reveal(r.inputs)
        health = inputs["healthcheck"]
        out[r.name] = {
            "command": list(inputs.get("command") or []),
            "env": {e.split("=", 1)[0] for e in inputs.get("envs", [])},
            "mounts": {v["containerPath"] for v in inputs.get("volumes") or []}
            | {u["file"] for u in inputs.get("uploads") or []},
            "networks": {n["name"] for n in inputs.get("networksAdvanced") or []},
            "network_mode": inputs.get("networkMode"),
            "health": [
                health["tests"],
                duration_seconds(health["interval"]),
                duration_seconds(health["timeout"]),
                int(health["retries"]),
                duration_seconds(health["startPeriod"]),
            ],
            "labels": {item["label"]: item["value"] for item in inputs.get("labels", [])},
        }
    return out


def running(stack: Stack, name: str) -> dict[str, Any]:
    data = stack.inspect(stack.container(name))
    image_config = json.loads(run(["docker", "image", "inspect", "--format", "{{json .Config}}", data["Image"]]))
    image_env = {e.split("=", 1)[0] for e in image_config.get("Env") or []}
    image_volumes = set(image_config.get("Volumes") or {})
    config = data["Config"]
    health = config.get("Healthcheck") or {}
    return {
        "image": config["Image"],
        "command": config.get("Cmd") or [],
        "image_command": image_config.get("Cmd") or [],
        "env": {e.split("=", 1)[0] for e in config.get("Env") or []},
        "image_env": image_env,
        "mounts": {m["Destination"] for m in data["Mounts"]},
        "image_volumes": image_volumes,
        "networks": set(data["NetworkSettings"]["Networks"]),
        "network_mode": data["HostConfig"]["NetworkMode"],
        "health": [
            health.get("Test", [])[:],
            health.get("Interval", 0) / 1e9,
            health.get("Timeout", 0) / 1e9,
            health.get("Retries"),
            health.get("StartPeriod", 0) / 1e9,
        ],
        "labels": {k: v for k, v in (config.get("Labels") or {}).items() if not k.startswith("com.docker.compose.")},
        "image_labels": set(image_config.get("Labels") or {}),
    }


def compose_equals_plan(stack: Stack, services: Iterable[str]) -> str:
    plan = planned(engine.run(stack.config.stack))
    allowed = substitutions(stack)
    problems: list[str] = []
    for name in services:
        problems += [f"{name}: {p}" for p in _differences(name, plan[name], running(stack, name), allowed[name])]
    if problems:
        raise CheckFailed("; ".join(problems))
    names = ", ".join(sorted(services))
    return f"images, commands, env names, mounts, networks, health checks and labels equal the plan for {names}"


def _differences(name: str, want: dict[str, Any], got: dict[str, Any], allowed: dict[str, Any]) -> list[str]:
    p: list[str] = []
    ref = want["labels"].get("quintas.image", "")
    local = got["image"]
    same_image = ref == local or (
        any(f"/{image}:" in ref for image in PRIVATE_IMAGES) and ref.rsplit(":", 1)[1] == local.rsplit(":", 1)[1]
    )
    if not same_image:
        p.append(f"image {local} != planned {ref}")
    if want["command"] and got["command"] != want["command"]:
        p.append(f"command {got['command']} != planned {want['command']}")
    if not want["command"] and got["command"] != got["image_command"]:
        p.append(f"command {got['command']} set, the plan leaves the image's")
    extra_env = got["env"] - want["env"] - allowed["env"] - got["image_env"]
    missing_env = want["env"] - got["env"]
    if extra_env or missing_env:
        p.append(f"env names: extra {sorted(extra_env)}, missing {sorted(missing_env)}")
    mounts = got["mounts"] - allowed["mounts"] - (got["image_volumes"] - want["mounts"])
    if mounts != want["mounts"]:
        p.append(f"mounts: extra {sorted(mounts - want['mounts'])}, missing {sorted(want['mounts'] - mounts)}")
    if want["network_mode"] == "host":
        if got["network_mode"] != "host":
            p.append(f"network mode {got['network_mode']}, planned host")
    elif got["networks"] != want["networks"]:
        p.append(f"networks {sorted(got['networks'])} != planned {sorted(want['networks'])}")
    if got["health"] != want["health"]:
        p.append(f"health check {got['health']} != planned {want['health']}")
    keys = (set(got["labels"]) | set(want["labels"])) - allowed["labels"] - (got["image_labels"] - set(want["labels"]))
    diff = sorted(k for k in keys if got["labels"].get(k) != want["labels"].get(k))
    if diff:
        p.append(f"labels differ: {', '.join(diff)}")
    return p
