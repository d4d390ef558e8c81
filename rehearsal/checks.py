"""The rehearsal's checks, each as an operator would make it on the host.

A check is a function of the running `Stack` that returns a one-line detail
or raises (CheckFailed or anything else) with the reason. The runner
(rehearsal/__main__.py) times each one and records it in build/rehearsal.json.
"""

from __future__ import annotations

import configparser
import json
import time
import urllib.parse
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

import boto3
import yaml

from components.workload.catalogue import DB_NAME
from components.workload.monitoring_config import PROMETHEUS_RULES
from components.workload.services import HealthCheck, duration_seconds
from ops.local import compose
from rehearsal.stack import RehearsalError, Stack

REHEARSAL_RULES = "rehearsal.yml"  # the rehearsal-only copy of the alert the delivery check fires
ALERT = "SiteDown"
ALERT_FOR = "5s"
ALERT_STOPS = "frontend"  # stopping it makes the internal app probe fail: SiteDown{service="app"}


class CheckFailed(Exception):
    """The stack did not behave as it should: the message says how."""


def poll(what: str, timeout: float, step: float, probe: Callable[[], Any]) -> Any:
    """Call `probe` until it returns something truthy; CheckFailed naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = probe()
        except (RehearsalError, OSError, ValueError, KeyError) as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(step)
    raise CheckFailed(f"{what}: not after {timeout:.0f} s (last: {str(last)[:300]})")


def _started(data: dict[str, Any]) -> float:
    stamp = data["State"]["StartedAt"]
    return datetime.fromisoformat(stamp[:26].rstrip("Z") + "+00:00").timestamp()


def healthy_times(stack: Stack) -> dict[str, float]:
    """Per container id, when the engine first reported it healthy (its own health_status events)."""
    first: dict[str, float] = {}
    for event in list(stack.health_events):
        if event.get("status") == "health_status: healthy":
            first.setdefault(event["id"], event["timeNano"] / 1e9)
    return first


def healthy_within_start_period(stack: Stack, services: Iterable[str]) -> dict[str, tuple[bool, str, float]]:
    """Per service: healthy by its own check within its declared start period?

    The time is from the container's start to the engine's first health_status: healthy
    event, so it is exact however long `docker-compose up` took to return.
    """
    results: dict[str, tuple[bool, str, float]] = {}
    pending: dict[str, str] = {}
    for name in services:
        ids = stack.container_ids(name, all_states=True)
        if ids:
            pending[name] = ids[0]
        else:
            results[name] = (False, "no container: docker-compose did not start it", 0.0)
    limit = {n: _health(stack, n).seconds_to_healthy() for n in pending}
    while pending:
        healthy = healthy_times(stack)
        for name, cid in list(pending.items()):
            data = stack.inspect(cid)
            period, started = _period(stack, name), _started(data)
            if cid in healthy:
                # In time if the probe that succeeded began within the start period.
                took, bound = healthy[cid] - started, period + duration_seconds(_health(stack, name).timeout)
                detail = f"healthy {took:.1f} s after start (start period {period} s, probe timeout included)"
                results[name] = (took <= bound, detail, took)
            elif not data["State"]["Running"] or time.time() - started > limit[name] + 30:
                log = data["State"].get("Health", {}).get("Log", [])[-1:] or [{}]
                out = str(log[0].get("Output", "")).strip()[-200:]
                status = data["State"].get("Health", {}).get("Status", "not running")
                results[name] = (False, f"{status} {time.time() - started:.0f} s after start: {out}", 0.0)
            else:
                continue
            del pending[name]
        time.sleep(1)
    return results


def _health(stack: Stack, name: str) -> HealthCheck:
    health = stack.specs[name].health
    assert health is not None
    return health


def _period(stack: Stack, name: str) -> int:
    return duration_seconds(_health(stack, name).start_period)


# Prometheus, asked from inside its own container.


def prometheus(stack: Stack, path: str, **params: str) -> Any:
    url = f"http://127.0.0.1:9090/api/v1/{path}"
    if params:
        url += "?" + urllib.parse.urlencode(params)
    body = json.loads(stack.exec("prometheus", "wget", "-q", "-O", "-", url))
    if body.get("status") != "success":
        raise CheckFailed(f"prometheus {path}: {body}")
    return body["data"]


def targets_up(stack: Stack, running: set[str]) -> str:
    def all_up() -> str | None:
        targets = prometheus(stack, "targets", state="active")["activeTargets"]
        ours = [t for t in targets if t["labels"]["job"] in running or t["labels"]["job"].startswith("probe-")]
        down = [f"{t['labels']['job']} {t['scrapeUrl']}: {t['lastError']}" for t in ours if t["health"] != "up"]
        if down or not ours:
            raise ValueError("; ".join(down) or "no targets")
        return f"{len(ours)} targets up: {', '.join(sorted({t['labels']['job'] for t in ours}))}"

    return poll("every target of a running service up", 90, 3, all_up)


def pg_up(stack: Stack) -> str:
    def query() -> str | None:
        up = prometheus(stack, "query", query="pg_up")["result"]
        if not up or up[0]["value"][1] != "1":
            raise ValueError(f"pg_up = {up}")
        series = prometheus(stack, "query", query=f'pg_stat_database_numbackends{{datname="{DB_NAME}"}}')["result"]
        if not series:
            raise ValueError(f"no pg_stat_database series for {DB_NAME}")
        return f"pg_up 1; pg_stat_database_numbackends{{datname={DB_NAME}}} = {series[0]['value'][1]}"

    return poll("postgres-exporter connected", 60, 3, query)


def rules_loaded(stack: Stack) -> str:
    files = stack.specs["prometheus"].config_files
    expected = {
        g["name"]
        for path, text in files.items()
        if path.startswith(PROMETHEUS_RULES)
        for g in yaml.safe_load(str(text))["groups"]
    }

    def loaded() -> str | None:
        groups = prometheus(stack, "rules")["groups"]
        names = {g["name"] for g in groups}
        missing = expected - names
        if missing:
            raise ValueError(f"groups not loaded: {sorted(missing)}")
        bad = [f"{r['name']}: {r.get('lastError')}" for g in groups for r in g["rules"] if r.get("health") == "err"]
        unknown = [r["name"] for g in groups for r in g["rules"] if r.get("health") == "unknown"]
        if bad or unknown:
            raise ValueError(f"errors: {bad}; not evaluated yet: {unknown[:5]}")
        count = sum(len(g["rules"]) for g in groups)
        return f"{len(groups)} groups, {count} rules, every one evaluated without error"

    return poll("every rule group loaded and evaluated", 90, 5, loaded)


def rehearsal_rules(stack: Stack) -> dict[str, str]:
    """A copy of the stack's own alert with a shorter `for`, as an extra Prometheus rule file."""
    files = compose.local_specs(stack.config)
    prometheus_files = next(s for s in files if s.name == "prometheus").config_files
    for path, text in prometheus_files.items():
        if not path.startswith(PROMETHEUS_RULES):
            continue
        for group in yaml.safe_load(str(text))["groups"]:
            for rule in group["rules"]:
                if rule.get("alert") == ALERT:
                    copy = {**rule, "for": ALERT_FOR}
                    doc = {"groups": [{"name": "rehearsal", "rules": [copy]}]}
                    rel = f"{compose.CONFIG_DIR}/prometheus{PROMETHEUS_RULES}/{REHEARSAL_RULES}"
                    return {rel: yaml.safe_dump(doc, sort_keys=False)}
    raise RehearsalError(f"no alert {ALERT} in the stack's rule files")


# The local AWS API server, reached on its published loopback port.


def aws(stack: Stack, service: str) -> Any:
    """A client of the local AWS API server on its loopback port, with the stack's local credentials."""
    ini = configparser.ConfigParser()
    ini.read(stack.root / compose.SECRETS_DIR / compose.AWS_CREDENTIALS)
    return boto3.client(
        service,
        endpoint_url="http://127.0.0.1:5000",
        region_name=stack.config.region,
        aws_access_key_id=ini["default"]["aws_access_key_id"],
        aws_secret_access_key=ini["default"]["aws_secret_access_key"],
    )


def alert_delivered(stack: Stack) -> str:
    sqs = aws(stack, "sqs")
    queue = sqs.get_queue_url(QueueName=compose.ALERT_QUEUE)["QueueUrl"]
    stack.compose("stop", "-t", "10", ALERT_STOPS)
    try:

        def received() -> str | None:
            messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=5)
            for message in messages.get("Messages", []):
                body = json.loads(message["Body"])
                text = f"{body.get('Subject', '')} {body.get('Message', '')}"
                if ALERT in text and "FIRING" in text.upper():
                    return f"{ALERT} reached SNS topic {body['TopicArn']} via Alertmanager: {body.get('Subject', '')!r}"
            return None

        return poll(f"{ALERT} delivered to the SNS subscriber", 150, 0, received)
    finally:
        stack.compose("start", ALERT_STOPS)
        health = stack.specs[ALERT_STOPS].health
        assert health is not None
        stack.wait_healthy(stack.container(ALERT_STOPS), health.seconds_to_healthy() + 30)
