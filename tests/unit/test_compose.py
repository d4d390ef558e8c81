"""`python -m ops compose`: the same specs as a Compose file, validated by Debian's docker-compose."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from components.workload.catalogue import SECRET_NAMES
from ops.__main__ import build_parser
from ops.cli import compose
from ops.local.compose import LOCAL_SECRETS, render
from ops.sim.engine import stack_config
from tests.conftest import require_tool

ROOT = Path(__file__).resolve().parents[2]


def run_compose(tmp: Path, *extra: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    args = build_parser().parse_args(["compose", "--stack", "staging", "--dir", str(tmp), *extra])
    code = compose.main(args, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project directory with the rendered file, generated local secrets and the postgres build context."""
    tmp = tmp_path_factory.mktemp("compose")
    (tmp / "services").symlink_to(ROOT / "services")
    code, text, _ = run_compose(tmp, "--init-secrets")
    assert code == 0
    (tmp / "docker-compose.yml").write_text(text)
    return tmp


@pytest.mark.slow  # drives a real tool or process
def test_docker_compose_accepts_the_rendered_file(project: Path) -> None:
    tool = require_tool("docker-compose", "apt-get install docker-compose")
    result = subprocess.run(
        [tool, "-f", "docker-compose.yml", "config"], cwd=project, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    resolved = yaml.safe_load(result.stdout)
    assert "postgres" in resolved["services"] and "aws-local" in resolved["services"]
    assert resolved["networks"]["backend"]["internal"] is True
    assert resolved["secrets"]["postgres_password"]["file"] == str(project / "local/secrets/postgres_password")
    # Compose would reject an unescaped `$` in node-exporter's mount-point regex; `config`
    # prints a literal `$` in its escaped form again.
    assert any("($$|/)" in c for c in resolved["services"]["node-exporter"]["command"])


def test_compose_has_the_same_services_as_the_host_plus_a_local_aws_api(project: Path) -> None:
    doc = yaml.safe_load((project / "docker-compose.yml").read_text())
    services = doc["services"]
    assert list(services)[:6] == ["traefik", "socket-proxy", "frontend", "directus", "postgres", "redis"]
    assert {"aws-local", "aws-local-init", "prometheus", "grafana", "cadvisor"} <= set(services)
    directus = services["directus"]["environment"]
    assert directus["STORAGE_S3_ENDPOINT"] == "http://aws-local:5000"
    assert directus["AWS_SHARED_CREDENTIALS_FILE"] == "/run/secrets/aws_credentials"
    assert services["directus"]["depends_on"]["postgres"] == {"condition": "service_healthy"}
    assert services["postgres"]["build"] == {"context": "./services/postgres"}
    assert services["postgres"]["image"] == "quintas-crm/postgres:16-3.4-barman-2"
    assert "data-postgres:/var/lib/postgresql/data" in services["postgres"]["volumes"]


def test_every_service_that_calls_aws_reaches_the_local_api_server_not_the_cloud(project: Path) -> None:
    """The backup job and postgres pointed at the real bucket name with no local S3 before."""
    doc = yaml.safe_load((project / "docker-compose.yml").read_text())
    services = doc["services"]
    for name in ("postgres", "backup"):
        env = services[name]["environment"]
        assert env["AWS_ENDPOINT_URL"] == "http://aws-local:5000", name
        assert env.get("BACKUP_BUCKET", env.get("BACKUPS_BUCKET")) == "backups", name
        assert services[name]["depends_on"]["aws-local-init"] == {"condition": "service_completed_successfully"}
    assert {"edge", "egress"} <= set(services["aws-local"]["networks"])
    init = " ".join(services["aws-local-init"]["entrypoint"])
    assert "create_bucket" in init and "'backups', 'uploads'" in init and "quintas-crm-staging-alerts" in init


def test_compose_delivers_the_monitoring_services_their_stack_files(project: Path) -> None:
    """Prometheus, Alertmanager, blackbox and Grafana ran on image defaults locally before."""
    doc = yaml.safe_load((project / "docker-compose.yml").read_text())
    mounts = {name: service.get("volumes", []) for name, service in doc["services"].items()}
    for service, path in (
        ("prometheus", "/etc/prometheus/prometheus.yml"),
        ("prometheus", "/etc/prometheus/rules/availability.yml"),
        ("alertmanager", "/etc/alertmanager/alertmanager.yml"),
        ("blackbox-exporter", "/etc/blackbox_exporter/config.yml"),
        ("grafana", "/etc/grafana/provisioning/datasources/prometheus.yml"),
    ):
        source = f"./local/config/{service}{path}"
        assert f"{source}:{path}:ro" in mounts[service]
        assert (project / source).read_text()
    prometheus = yaml.safe_load((project / "local/config/prometheus/etc/prometheus/prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in prometheus["scrape_configs"]}
    assert {"postgres-exporter", "directus", "probe-internal"} <= set(jobs)
    # No probe through the public names: a local run must not reach the internet.
    assert "probe-public" not in jobs
    alertmanager = yaml.safe_load((project / "local/config/alertmanager/etc/alertmanager/alertmanager.yml").read_text())
    sns = [c for r in alertmanager["receivers"] for c in r.get("sns_configs", [])]
    assert sns and all(c["api_url"] == "http://aws-local:5000" for c in sns)
    assert all(c["topic_arn"] == "arn:aws:sns:us-east-1:123456789012:quintas-crm-staging-alerts" for c in sns)


def test_postgres_archives_wal_with_the_stacks_own_settings(project: Path) -> None:
    """The local postgres ran without archive_mode before: nothing could rehearse WAL archiving."""
    from components.backups import stack_postgres_settings

    command = yaml.safe_load((project / "docker-compose.yml").read_text())["services"]["postgres"]["command"]
    settings = dict(arg.split("=", 1) for arg in command[2::2])
    expected = stack_postgres_settings(stack_config("staging"))
    assert {k: settings[k] for k in expected} == {k: v.replace("$", "$$") for k, v in expected.items()}
    assert settings["archive_mode"] == "on" and settings["archive_command"].startswith(
        "wal-archive-ahead 4 barman-cloud-wal-archive"
    )


def test_local_aws_credentials_are_in_the_sdks_file_format(project: Path) -> None:
    text = (project / "local/secrets/aws_credentials").read_text()
    assert text.startswith("[default]\naws_access_key_id = local")
    assert "aws_secret_access_key = " in text


def test_compose_binds_ports_to_loopback_only(project: Path) -> None:
    doc = yaml.safe_load((project / "docker-compose.yml").read_text())
    ports = [p for s in doc["services"].values() for p in s.get("ports", [])]
    assert ports and all(p.startswith("127.0.0.1:") for p in ports)
    assert "ports" not in doc["services"]["redis"]


def test_compose_secrets_come_from_local_files_never_values(project: Path) -> None:
    text = (project / "docker-compose.yml").read_text()
    for name in LOCAL_SECRETS:
        value = (project / "local/secrets" / name).read_text()
        assert len(value) >= 32 and value not in text and value.strip() not in text
    doc = yaml.safe_load(text)
    assert set(doc["secrets"]) == set(LOCAL_SECRETS)
    assert doc["services"]["directus"]["environment"]["SECRET_FILE"] == "/run/secrets/directus_secret"
    assert not any(
        k in env
        for env in (s.get("environment", {}) for s in doc["services"].values())
        for k in ("SECRET", "DB_PASSWORD")
    )


def test_init_secrets_never_overwrites_a_developers_file(tmp_path: Path) -> None:
    secret = tmp_path / "local/secrets/postgres_password"
    secret.parent.mkdir(parents=True)
    secret.write_text("my-own-local-password")
    code, _, err = run_compose(tmp_path, "--init-secrets")
    assert code == 0
    assert secret.read_text() == "my-own-local-password"
    assert f"created {len(LOCAL_SECRETS) - 1} missing file(s)" in err
    assert oct(os.stat(tmp_path / "local/secrets/metrics_token").st_mode & 0o777) == "0o644"


@pytest.mark.slow  # drives a real tool or process
def test_compose_cli_needs_no_cloud_and_names_a_bad_stack() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    ok = subprocess.run(
        [sys.executable, "-m", "ops", "compose", "--stack", "prod"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stderr
    assert yaml.safe_load(ok.stdout)["services"]["frontend"]["image"] == "quintas-crm/frontend:1.0.0"
    bad = subprocess.run(
        [sys.executable, "-m", "ops", "compose", "--stack", "nosuch"], cwd=ROOT, capture_output=True, text=True
    )
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: no settings file Pulumi.nosuch.yaml")


def test_grafana_is_routed_at_a_localhost_name() -> None:
    doc = render(stack_config("staging"))
    labels = doc["services"]["grafana"]["labels"]
    assert labels["traefik.http.routers.grafana-app.rule"] == "Host(`grafana.localhost`)"
    assert set(SECRET_NAMES) <= set(doc["secrets"])
