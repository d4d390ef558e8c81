"""Alertmanager, blackbox-exporter and Grafana files: their own tools accept them,
Alertmanager routes by severity to the SNS topic, and every dashboard panel's
PromQL parses and uses only metrics some scrape job produces."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any, cast

import pytest
import yaml

from components.config import StackConfig
from components.workload import monitoring_config as mc
from components.workload.services import ScrapeTarget, SpecError, with_config_files
from tests.conftest import require_tool
from tests.helpers.promql_names import metric_names
from tests.integration.test_monitoring_rules import PROMTOOL_HINT, catalogued_metrics

TOPIC = "arn:aws:sns:us-east-1:123456789012:quintas-crm-staging-alerts"


def amtool() -> str:
    return require_tool("amtool", "apt-get install prometheus-alertmanager")


def write_alertmanager(tmp_path: Path, topic: str = TOPIC, region: str = "us-east-1") -> Path:
    for path, content in mc.alertmanager_files(mc.render_alertmanager(topic, region)).items():
        target = tmp_path / Path(path).relative_to("/etc/alertmanager")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    return tmp_path / "alertmanager.yml"


@pytest.mark.slow  # drives a real tool or process
def test_amtool_accepts_the_rendered_alertmanager_config(tmp_path: Path) -> None:
    config = write_alertmanager(tmp_path)
    result = subprocess.run([amtool(), "check-config", str(config)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 receivers" in result.stdout and "1 templates" in result.stdout


@pytest.mark.slow  # drives a real tool or process
def test_amtool_rejects_a_broken_template(tmp_path: Path) -> None:
    config = write_alertmanager(tmp_path)
    (tmp_path / "templates" / "sns.tmpl").write_text('{{ define "quintas.subject" }}{{ .Status }')
    result = subprocess.run([amtool(), "check-config", str(config)], capture_output=True, text=True)
    assert result.returncode != 0


def test_alertmanager_sends_to_the_stack_topic_signed_with_the_instance_role(tmp_path: Path) -> None:
    doc = yaml.safe_load(write_alertmanager(tmp_path, region="eu-west-1").read_text())
    sns = [c for r in doc["receivers"] for c in r["sns_configs"]]
    assert len(sns) == 2
    for c in sns:
        assert c["topic_arn"] == TOPIC
        assert c["sigv4"] == {"region": "eu-west-1"}  # no keys: the instance role signs
        assert c["send_resolved"] is True
    assert "smtp" not in json.dumps(doc)


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["severity=critical", "alertname=SiteDown"], "sns-critical"),
        (["severity=warning", "alertname=HostCpuHigh"], "sns-warning"),
        (["alertname=Unlabelled"], "sns-warning"),
    ],
)
@pytest.mark.slow  # drives a real tool or process
def test_alertmanager_routes_by_severity(tmp_path: Path, labels: list[str], receiver: str) -> None:
    config = write_alertmanager(tmp_path)
    result = subprocess.run(
        [amtool(), "config", "routes", "test", f"--config.file={config}", *labels], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == receiver


def test_critical_alerts_repeat_sooner_than_warnings(tmp_path: Path) -> None:
    route = yaml.safe_load(write_alertmanager(tmp_path).read_text())["route"]
    critical = next(r for r in route["routes"] if r["receiver"] == "sns-critical")
    assert critical["repeat_interval"] == "4h" and route["repeat_interval"] == "12h"
    assert route["group_wait"] == "30s" and route["group_interval"] == "5m"
    assert "alertname" in route["group_by"]


@pytest.mark.slow  # drives a real tool or process
def test_email_subject_and_body_render(tmp_path: Path) -> None:
    write_alertmanager(tmp_path)
    glob = str(tmp_path / "templates" / "*.tmpl")
    for name in ("quintas.subject", "quintas.message"):
        result = subprocess.run(
            [
                amtool(),
                "template",
                "render",
                f"--template.glob={glob}",
                f'--template.text={{{{ template "{name}" . }}}}',
            ],
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip()
    assert len(result.stdout) > 40 and "Labels:" in result.stdout


@pytest.mark.parametrize("topic", ["", "quintas-alerts", "arn:aws:s3:::bucket"])
def test_render_alertmanager_refuses_what_is_not_a_topic_arn(topic: str) -> None:
    with pytest.raises(ValueError, match="not an SNS topic ARN"):
        mc.render_alertmanager(topic, "us-east-1")


@pytest.mark.slow  # drives a real tool or process
def test_blackbox_exporter_accepts_its_modules(tmp_path: Path) -> None:
    tool = require_tool("prometheus-blackbox-exporter", "apt-get install prometheus-blackbox-exporter")
    config = tmp_path / "config.yml"
    config.write_text(mc.blackbox_files()[mc.BLACKBOX_CONFIG])
    result = subprocess.run([tool, "--config.check", f"--config.file={config}"], capture_output=True, text=True)
    assert result.returncode == 0 and "Config file is ok" in result.stderr, result.stderr
    modules = yaml.safe_load(config.read_text())["modules"]
    assert set(mc.PROBE_MODULES.values()) <= set(modules)
    assert modules["https_2xx"]["http"]["fail_if_not_ssl"] is True


# ---------------------------------------------------------------- Grafana


def dashboards() -> dict[str, dict[str, Any]]:
    return {p.stem: json.loads(p.read_text()) for p in sorted((mc.GRAFANA_DIR / "dashboards").glob("*.json"))}


def panel_exprs() -> list[tuple[str, str]]:
    return [
        (f"{uid}/{panel['id']}/{target['refId']}", target["expr"])
        for uid, board in dashboards().items()
        for panel in board["panels"]
        for target in panel["targets"]
    ]


def promtool_check_exprs(tmp_path: Path, exprs: list[tuple[str, str]]) -> subprocess.CompletedProcess[str]:
    """promtool has no offline query parser; a recording rule per expression makes `check rules` parse it."""
    rules = [{"record": "panel:" + key.replace("/", "_").replace("-", "_"), "expr": expr} for key, expr in exprs]
    path = tmp_path / "panels.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "panels", "rules": rules}]}))
    promtool = require_tool("promtool", PROMTOOL_HINT)
    return subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True)


def test_the_five_dashboards_exist_with_fixed_uids() -> None:
    boards = dashboards()
    assert set(boards) == {"host", "containers", "postgresql", "traffic", "backups"}
    for uid, board in boards.items():
        assert board["uid"] == uid and board["panels"]


def test_every_panel_uses_the_provisioned_datasource() -> None:
    uid = yaml.safe_load((mc.GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yml").read_text())
    source = uid["datasources"][0]
    assert source["uid"] == "prometheus" and source["url"] == "http://prometheus:9090"
    for board in dashboards().values():
        for panel in board["panels"]:
            assert panel["datasource"] == {"type": "prometheus", "uid": source["uid"]}
            assert panel["targets"], f"{board['uid']}: panel {panel['title']!r} has no query"


@pytest.mark.slow  # drives a real tool or process
def test_every_panel_query_parses(tmp_path: Path) -> None:
    exprs = panel_exprs()
    assert len(exprs) >= 30
    result = promtool_check_exprs(tmp_path, exprs)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(exprs)} rules found" in result.stdout


@pytest.mark.slow  # drives a real tool or process
def test_the_parse_check_catches_a_broken_query(tmp_path: Path) -> None:
    result = promtool_check_exprs(tmp_path, [("x/1/A", "sum by (name (rate(up[5m]))")])
    assert result.returncode != 0


def test_every_panel_uses_only_catalogued_metrics() -> None:
    known = catalogued_metrics()
    for key, expr in panel_exprs():
        names = metric_names(expr)
        assert names, f"{key}: no metric in {expr!r}"
        assert names <= known, f"{key}: {sorted(names - known)} not produced by any scrape job"


def test_the_dashboards_cover_what_the_issue_asks() -> None:
    text = {uid: json.dumps(board) for uid, board in dashboards().items()}
    assert all(m in text["host"] for m in ("node_cpu", "MemAvailable", "filesystem_avail", "network_receive"))
    assert "container_cpu" in text["containers"] and "container_memory" in text["containers"]
    assert all(m in text["postgresql"] for m in ("numbackends", "xact_commit", "blks_hit", "pg_stat_archiver"))
    assert all(m in text["traffic"] for m in ("traefik_service_requests_total", "duration_seconds_bucket", "5.."))
    assert 'kind=\\"base\\"' in text["backups"] and "last_archive_age" in text["backups"]


def test_grafana_keeps_its_own_login_and_no_password_in_its_settings() -> None:
    env = mc.grafana_settings("grafana.example.org")
    assert not any("PASSWORD" in key for key in env)  # the password comes as a secret file
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false" and env["GF_USERS_ALLOW_SIGN_UP"] == "false"
    assert env["GF_SERVER_ROOT_URL"] == "https://grafana.example.org/"
    assert env["GF_PATHS_PROVISIONING"] == mc.GRAFANA_PROVISIONING


def test_dashboard_provider_points_at_the_delivered_files() -> None:
    doc = yaml.safe_load((mc.GRAFANA_DIR / "provisioning" / "dashboards" / "quintas.yml").read_text())
    assert doc["providers"][0]["options"]["path"] == mc.GRAFANA_DASHBOARDS
    files = mc.grafana_files()
    assert {f"{mc.GRAFANA_DASHBOARDS}/{uid}.json" for uid in dashboards()} <= set(files)


# ---------------------------------------------------------------- rendering


def test_scrape_job_names_the_authorization_scheme_and_its_file() -> None:
    token = ScrapeTarget("directus", "directus:8055", "/metrics", "metrics", "/run/secrets/metrics_token")
    job = mc.scrape_job(token)
    assert job["authorization"] == {"type": "Metrics", "credentials_file": "/run/secrets/metrics_token"}
    assert "metrics_path" not in job  # the default path stays implicit
    bearer = mc.scrape_job(ScrapeTarget("x", "x:1", "/stats", "bearer", "/run/secrets/t"))
    assert bearer["authorization"] == {"type": "Bearer", "credentials_file": "/run/secrets/t"}
    assert bearer["metrics_path"] == "/stats"
    with pytest.raises(ValueError, match="needs a token file"):
        mc.scrape_job(ScrapeTarget("x", "x:1", "/metrics", "metrics", None))


def test_render_prometheus_refuses_two_jobs_with_one_name() -> None:
    same = ScrapeTarget("probe-public", "a:1", "/metrics", "none", None)
    probes = mc.health_probes("app.example.org", "cms.example.org", "/h", "/h", {"app": "a:1", "cms": "c:2"})
    with pytest.raises(ValueError, match="probe-public"):
        mc.render_prometheus("staging", [same], probes)


def test_with_config_files_refuses_files_for_an_unknown_service() -> None:
    with pytest.raises(SpecError, match="nosuch"):
        with_config_files([], {"nosuch": {"/etc/x": "y"}})


def test_monitoring_files_need_services_behind_both_entrypoints() -> None:
    with pytest.raises(ValueError, match="app, cms"):
        mc.monitoring_files(cast(StackConfig, None), [], "arn:aws:sns:us-east-1:123456789012:t")
