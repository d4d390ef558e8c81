"""The monitoring files as deployed: rendered from the ServiceSpecs, uploaded into the
containers with a digest label, and accepted by promtool and amtool as delivered.

Every run here is the real program (__main__.py) on the simulated engine.
Regenerate the committed prometheus.yml renderings with
`python -m ops monitoring-config --stack <stack> --write`.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from components.workload import monitoring_config as mc
from components.workload.services import CONFIG_DIGEST_LABEL, HOST_GATEWAY_NAME
from ops.__main__ import build_parser
from ops.cli import monitoring_config as verb
from ops.cli import plan
from ops.cli.monitoring_config import CONTAINER, MONITORING, config_digest, delivered_files
from ops.sim import engine
from tests.conftest import STACKS, require_tool, shipped
from tests.integration.test_monitoring_rules import PROMTOOL_HINT, catalogue


def prometheus_doc(stack: str) -> dict:
    return yaml.safe_load(delivered_files(shipped(stack), "prometheus")[mc.PROMETHEUS_CONFIG])


@pytest.mark.parametrize("stack", STACKS)
def test_committed_prometheus_yml_is_what_the_stack_delivers(stack: str) -> None:
    delivered = delivered_files(shipped(stack), "prometheus")[mc.PROMETHEUS_CONFIG]
    committed = mc.rendered_prometheus_path(stack)
    assert committed.is_file() and committed.read_text() == delivered, (
        f"{committed} is out of date: run `python -m ops monitoring-config --stack {stack} --write`"
    )


@pytest.mark.slow  # drives a real tool or process
@pytest.mark.parametrize("stack", STACKS)
def test_promtool_accepts_the_delivered_prometheus_config(tmp_path: Path, stack: str) -> None:
    """Full check, rule files and the token file included: the container paths are laid out under tmp."""
    promtool = require_tool("promtool", PROMTOOL_HINT)
    run = shipped(stack)
    files = delivered_files(run, "prometheus")
    token = tmp_path / "run" / "secrets" / "metrics_token"
    token.parent.mkdir(parents=True)
    token.write_text("simulated-token\n")
    for path, content in files.items():
        target = tmp_path / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(
            content.replace("/etc/prometheus/", f"{tmp_path}/etc/prometheus/").replace(
                "/run/secrets/", f"{tmp_path}/run/secrets/"
            )
        )
    config = tmp_path / mc.PROMETHEUS_CONFIG.lstrip("/")
    result = subprocess.run([promtool, "check", "config", str(config)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    delivered = {Path(path).name for path in files if "/rules/" in path}
    # Every rule file goes to every stack but edge.yml, which watches Traefik as the public edge (edge: host).
    assert {p.name for p in (mc.PROMETHEUS_DIR / "rules").glob("*.yml")} - delivered <= {"edge.yml"}
    assert f"SUCCESS: {len(delivered)} rule files found" in result.stdout
    assert result.stdout.count("SUCCESS") == 2 + len(delivered)
    token.unlink()  # the full check reads the token file too: without it, it fails
    missing = subprocess.run([promtool, "check", "config", str(config)], capture_output=True, text=True)
    assert missing.returncode != 0 and "metrics_token" in missing.stdout + missing.stderr


@pytest.mark.parametrize("stack", STACKS)
def test_every_service_with_metrics_has_its_scrape_job(stack: str) -> None:
    run = shipped(stack)
    jobs = {j["job_name"]: j for j in prometheus_doc(stack)["scrape_configs"]}
    containers = {r.name for r in run.of_type(CONTAINER)}
    expected = {"traefik", "directus", "node-exporter", "cadvisor", "postgres-exporter", "redis-exporter"}
    assert expected <= set(jobs)
    for name in set(jobs) - {"probe-public", "probe-internal"}:
        assert name in containers
        (target,) = jobs[name]["static_configs"][0]["targets"]
        # node-exporter is in the host's network namespace, reached through the host gateway.
        assert target.split(":")[0] == (HOST_GATEWAY_NAME if name == "node-exporter" else name)
    assert jobs["directus"]["authorization"] == {"type": "Metrics", "credentials_file": "/run/secrets/metrics_token"}
    prometheus = run.one(CONTAINER, "prometheus")
    files = [u["file"] for u in engine.reveal(prometheus.inputs["uploads"])]
    assert "/run/secrets/metrics_token" in files


@pytest.mark.parametrize("stack", STACKS)
def test_probes_cover_app_and_cms_publicly_and_internally(stack: str) -> None:
    jobs = {j["job_name"]: j for j in prometheus_doc(stack)["scrape_configs"]}
    config = yaml.safe_load(Path(engine.stack_file(stack)).read_text())["config"]
    app, cms = config["quintas-crm-infra:appHost"], config["quintas-crm-infra:cmsHost"]
    public = {t: c["labels"] for c in jobs["probe-public"]["static_configs"] for t in c["targets"]}
    internal = {t: c["labels"] for c in jobs["probe-internal"]["static_configs"] for t in c["targets"]}
    assert public == {
        f"https://{app}/api/health": {"service": "app", "probe": "public"},
        f"https://{cms}/server/health": {"service": "cms", "probe": "public"},
    }
    assert internal == {
        "http://frontend:3000/api/health": {"service": "app", "probe": "internal"},
        "http://directus:8055/server/health": {"service": "cms", "probe": "internal"},
    }
    assert jobs["probe-public"]["params"] == {"module": ["https_2xx"]}
    assert {"target_label": "__address__", "replacement": mc.BLACKBOX_ADDRESS} in jobs["probe-public"][
        "relabel_configs"
    ]


def test_every_job_the_metric_list_relies_on_is_scraped() -> None:
    jobs = {j["job_name"] for j in prometheus_doc("staging")["scrape_configs"]}
    assert set(catalogue()) - {"*"} <= jobs


@pytest.mark.parametrize(("stack", "size"), [("staging", "3GB"), ("prod", "8GB")])
def test_prometheus_retention_is_sized_from_the_data_volume(stack: str, size: str) -> None:
    command = shipped(stack).one(CONTAINER, "prometheus").inputs["command"]
    assert f"--storage.tsdb.retention.size={size}" in command
    assert "--web.enable-lifecycle" not in command
    assert mc.retention_size_gb(20) == 2 and mc.retention_size_gb(50) == 5 and mc.retention_size_gb(2000) == 8


@pytest.mark.slow  # drives a real tool or process
@pytest.mark.parametrize("stack", STACKS)
def test_alertmanager_gets_the_stack_topic_and_amtool_accepts_it(tmp_path: Path, stack: str) -> None:
    amtool = require_tool("amtool", "apt-get install prometheus-alertmanager")
    run = shipped(stack)
    topic_arn = run.outputs["alertTopicArn"]
    files = delivered_files(run, "alertmanager")
    doc = yaml.safe_load(files[mc.ALERTMANAGER_CONFIG])
    region = yaml.safe_load(Path(engine.stack_file(stack)).read_text())["config"]["aws:region"]
    for receiver in doc["receivers"]:
        assert receiver["sns_configs"][0]["topic_arn"] == topic_arn
        assert receiver["sns_configs"][0]["sigv4"] == {"region": region}
    for path, content in files.items():
        target = tmp_path / Path(path).relative_to("/etc/alertmanager")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    result = subprocess.run(
        [amtool, "check-config", str(tmp_path / "alertmanager.yml")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_grafana_is_routed_at_its_host_with_the_password_from_a_file() -> None:
    grafana = shipped("prod").one(CONTAINER, "grafana")
    envs = dict(e.split("=", 1) for e in grafana.inputs["envs"])
    assert envs["GF_SECURITY_ADMIN_PASSWORD__FILE"] == "/run/secrets/grafana_admin_password"
    assert "GF_SECURITY_ADMIN_PASSWORD" not in envs and envs["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    labels = {entry["label"]: entry["value"] for entry in grafana.inputs["labels"]}
    assert labels["traefik.http.routers.grafana-app.rule"] == "Host(`grafana.quintas-crm.example`)"
    files = delivered_files(shipped("prod"), "grafana")
    assert {
        f"{mc.GRAFANA_DASHBOARDS}/{b}.json" for b in ("host", "containers", "postgresql", "traffic", "backups")
    } <= set(files)
    assert f"{mc.GRAFANA_PROVISIONING}/datasources/prometheus.yml" in files


def test_changing_a_rule_file_changes_only_the_prometheus_digest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = {s: config_digest(shipped("staging"), s) for s in MONITORING}
    copy = tmp_path / "prometheus"
    shutil.copytree(mc.PROMETHEUS_DIR, copy)
    rule = copy / "rules" / "host.yml"
    rule.write_text(rule.read_text().replace("for: 5m", "for: 6m", 1))
    monkeypatch.setattr(mc, "PROMETHEUS_DIR", copy)
    changed = engine.run("staging")
    after = {s: config_digest(changed, s) for s in MONITORING}
    assert after["prometheus"] != before["prometheus"]
    assert {s: after[s] for s in MONITORING if s != "prometheus"} == {
        s: before[s] for s in MONITORING if s != "prometheus"
    }
    assert "for: 6m" in delivered_files(changed, "prometheus")["/etc/prometheus/rules/host.yml"]


def test_a_different_alert_topic_changes_the_alertmanager_digest() -> None:
    staging, prod = shipped("staging"), shipped("prod")
    assert config_digest(staging, "alertmanager") != config_digest(prod, "alertmanager")
    assert config_digest(staging, "grafana") == config_digest(prod, "grafana")


@pytest.mark.usefixtures("shared_runs")
def test_plan_shows_the_monitoring_containers_with_their_config_digests() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert plan.main(build_parser().parse_args(["plan", "--stack", "staging", "--full"]), out=out, err=err) == 0
    text = out.getvalue()
    for service in MONITORING:
        assert f"docker:index/container:Container  {service}" in text
        assert f'"label": "{CONFIG_DIGEST_LABEL}", "value": "{config_digest(shipped("staging"), service)}"' in text


def _verb(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = verb.main(build_parser().parse_args(["monitoring-config", *argv]), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_verb_lists_digests_and_checks_the_committed_rendering(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verb.engine, "run", lambda stack: shipped(stack))
    code, out, _ = _verb(["--stack", "prod"])
    assert code == 0
    for service in MONITORING:
        assert f"{service}: {CONFIG_DIGEST_LABEL}={config_digest(shipped('prod'), service)}" in out
    assert _verb(["--stack", "prod", "--check"])[0] == 0
    stale = tmp_path / "prometheus.prod.yml"
    stale.write_text("global: {}\n")
    monkeypatch.setattr(verb, "rendered_prometheus_path", lambda stack: stale)
    code, _, err = _verb(["--stack", "prod", "--check"])
    assert code == 1 and "out of date" in err and "--write" in err
    assert _verb(["--stack", "prod", "--write"])[0] == 0
    assert stale.read_text() == mc.rendered_prometheus_path("prod").read_text()


def test_verb_says_when_the_stack_has_no_monitoring_containers(monkeypatch: pytest.MonkeyPatch) -> None:
    empty = engine.run("staging", program=lambda: None)
    monkeypatch.setattr(verb.engine, "run", lambda stack: empty)
    code, _, err = _verb(["--stack", "staging"])
    assert code == 1 and "no prometheus container" in err


def test_verb_rejects_an_unknown_stack() -> None:
    code, _, err = _verb(["--stack", "nosuchstack"])
    assert code == 2 and "nosuchstack" in err
