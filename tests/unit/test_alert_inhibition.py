"""Alertmanager's inhibit rules: a cause mutes only the alerts it explains, checked on the
parsed configuration and on a real Alertmanager on loopback."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import require_tool
from tests.program.test_monitoring_deploy import prometheus_doc
from tests.unit.test_monitoring_config import write_alertmanager


def test_every_inhibit_rule_names_the_labels_its_source_and_target_share(tmp_path: Path) -> None:
    rules = yaml.safe_load(write_alertmanager(tmp_path).read_text())["inhibit_rules"]
    # Without `equal`, any firing source mutes every matching target, whatever it is about.
    assert rules and all(rule.get("equal") for rule in rules), rules
    site = next(r for r in rules if r["source_matchers"] == ['alertname="SiteDown"'])
    assert site["equal"] == ["service"]


def test_targets_behind_a_site_carry_its_service_label_like_the_probes() -> None:
    jobs = prometheus_doc("staging")["scrape_configs"]
    labelled = {
        j["job_name"]: c["labels"]["service"]
        for j in jobs
        if not j["job_name"].startswith("probe-")
        for c in j["static_configs"]
        if "labels" in c
    }
    # Directus serves the cms site: a cms SiteDown explains its TargetDown. Traefik serves
    # both sites and no one label can say so: its TargetDown (the likely cause) stays loud.
    assert labelled == {"directus": "cms"}
    probes = {c["labels"]["service"] for j in jobs if j["job_name"].startswith("probe-") for c in j["static_configs"]}
    assert probes == {"app", "cms"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _api(base: str, path: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        text = response.read()
    return json.loads(text) if path.startswith("/api/") and text else text


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[str]:
    tool = require_tool("prometheus-alertmanager", "apt-get install prometheus-alertmanager")
    config = write_alertmanager(tmp_path)
    port = _free_port()
    process = subprocess.Popen(
        [tool, f"--config.file={config}", f"--storage.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                _api(base, "/-/ready")
                break
            except OSError:
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


def _inhibited(base: str, alerts: list[dict[str, str]]) -> dict[str, bool]:
    _api(base, "/api/v2/alerts", [{"labels": labels} for labels in alerts])
    key = lambda a: f"{a['alertname']}:{a.get('job', '')}"  # noqa: E731
    status: dict[str, bool] = {}
    for _ in range(50):  # the inhibitor learns of a new source alert asynchronously
        found = _api(base, "/api/v2/alerts")
        status = {key(a["labels"]): bool(a["status"]["inhibitedBy"]) for a in found}
        if len(status) == len(alerts) and any(status.values()):
            break
        time.sleep(0.1)
    return status


@pytest.mark.slow  # drives a real tool or process
def test_a_site_down_mutes_only_the_target_down_behind_that_site(alertmanager: str) -> None:
    status = _inhibited(
        alertmanager,
        [
            {"alertname": "SiteDown", "severity": "critical", "job": "probe-public", "service": "cms",
             "probe": "public", "instance": "https://cms.example/server/health"},
            {"alertname": "TargetDown", "severity": "warning", "job": "directus", "service": "cms",
             "instance": "directus:8055"},
            {"alertname": "TargetDown", "severity": "warning", "job": "redis-exporter",
             "instance": "redis-exporter:9121"},
            {"alertname": "TargetDown", "severity": "warning", "job": "node-exporter",
             "instance": "host.docker.internal:9100"},
        ],
    )  # fmt: skip
    assert status == {
        "SiteDown:probe-public": False,
        "TargetDown:directus": True,
        "TargetDown:redis-exporter": False,
        "TargetDown:node-exporter": False,
    }
