"""The configuration files of the monitoring containers, rendered from the repository.

Prometheus' scrape jobs come from the services' metrics endpoints plus the
blackbox probes of the app and the CMS (through their public names and inside
the Docker network); the rule files, the Alertmanager template and Grafana's
provisioning and dashboards are the files under services/. No resources and
no pulumi.Config here; only alertmanager.yml waits for an Output (the alert
topic's ARN). The container specs carry the results as config files, so a
changed file changes the container's digest label and the deployment.
"""

from __future__ import annotations

import math
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pulumi
import yaml

from components.config import StackConfig
from components.workload.services import ScrapeTarget, ServiceSpec, scrape_targets

SERVICES_DIR = Path(__file__).resolve().parents[2] / "services"
PROMETHEUS_DIR = SERVICES_DIR / "prometheus"
ALERTMANAGER_DIR = SERVICES_DIR / "alertmanager"
GRAFANA_DIR = SERVICES_DIR / "grafana"
BLACKBOX_DIR = SERVICES_DIR / "blackbox"

# Where the files land inside the containers.
PROMETHEUS_CONFIG = "/etc/prometheus/prometheus.yml"
PROMETHEUS_RULES = "/etc/prometheus/rules"
ALERTMANAGER_CONFIG = "/etc/alertmanager/alertmanager.yml"
GRAFANA_PROVISIONING = "/etc/grafana/provisioning"
GRAFANA_DASHBOARDS = "/etc/grafana/dashboards"
BLACKBOX_CONFIG = "/etc/blackbox_exporter/config.yml"

SCRAPE_INTERVAL = "15s"
BLACKBOX_ADDRESS = "blackbox-exporter:9115"
ALERTMANAGER_ADDRESS = "alertmanager:9093"
# Size-based retention: a tenth of the data volume (the setting that sizes the
# stack's storage), at least 2 GB, at most 8 GB: the TSDB sits on the
# `prometheus-data` named volume, on the host's 30 GB root disk beside the
# images, and must leave the disk alert (10 % free) far away.
RETENTION_SHARE = 0.10
RETENTION_MIN_GB = 2
RETENTION_MAX_GB = 8
RETENTION_MAX_TIME = "90d"
# Health URLs the probes ask for: Next.js' /api/health route and Directus'
# /server/health (503 when its database, cache or storage is unhealthy).
APP_HEALTH_PATH = "/api/health"
CMS_HEALTH_PATH = "/server/health"

# Directus reads `Authorization: Metrics <token>` (its METRICS_TOKENS setting).
AUTH_TYPES: Mapping[str, str] = {"bearer": "Bearer", "metrics": "Metrics"}


@dataclass(frozen=True)
class Probe:
    """A blackbox HTTP probe of a health URL; `probe` says which path it takes to the service."""

    service: Literal["app", "cms"]
    probe: Literal["public", "internal"]
    url: str


def health_probes(
    app_host: str, cms_host: str, app_health: str, cms_health: str, internal: Mapping[str, str]
) -> list[Probe]:
    """The app and CMS health URLs, through their public names and directly on the Docker network.

    `internal` maps "app" and "cms" to their host:port inside the network.
    """
    return [
        Probe("app", "public", f"https://{app_host}{app_health}"),
        Probe("cms", "public", f"https://{cms_host}{cms_health}"),
        Probe("app", "internal", f"http://{internal['app']}{app_health}"),
        Probe("cms", "internal", f"http://{internal['cms']}{cms_health}"),
    ]


def scrape_job(target: ScrapeTarget) -> dict[str, object]:
    job: dict[str, object] = {"job_name": target.job}
    if target.path != "/metrics":
        job["metrics_path"] = target.path
    if target.auth != "none":
        if target.auth not in AUTH_TYPES or not target.token_file:
            raise ValueError(
                f"{target.job}: metrics auth {target.auth!r} needs a token file and one of {sorted(AUTH_TYPES)}"
            )
        job["authorization"] = {"type": AUTH_TYPES[target.auth], "credentials_file": target.token_file}
    static: dict[str, object] = {"targets": [target.address]}
    if target.site:
        static["labels"] = {"service": target.site}  # as the probes of that site (inhibition)
    job["static_configs"] = [static]
    return job


# blackbox modules (services/blackbox/config.yml): public probes also demand TLS.
PROBE_MODULES: Mapping[str, str] = {"public": "https_2xx", "internal": "http_2xx"}


def probe_job(kind: Literal["public", "internal"], probes: Sequence[Probe]) -> dict[str, object]:
    return {
        "job_name": f"probe-{kind}",
        "metrics_path": "/probe",
        "params": {"module": [PROBE_MODULES[kind]]},
        "static_configs": [{"targets": [p.url], "labels": {"service": p.service, "probe": p.probe}} for p in probes],
        # The target is the URL to probe; the scrape itself goes to the exporter.
        "relabel_configs": [
            {"source_labels": ["__address__"], "target_label": "__param_target"},
            {"source_labels": ["__param_target"], "target_label": "instance"},
            {"target_label": "__address__", "replacement": BLACKBOX_ADDRESS},
        ],
    }


def render_prometheus(stack: str, targets: Iterable[ScrapeTarget], probes: Sequence[Probe]) -> str:
    """prometheus.yml: one job per metrics endpoint plus the public and internal probe jobs."""
    jobs = [scrape_job(t) for t in sorted(targets, key=lambda t: t.job)]
    for kind in ("public", "internal"):
        chosen = [p for p in probes if p.probe == kind]
        if chosen:
            jobs.append(probe_job(kind, chosen))
    names = [str(j["job_name"]) for j in jobs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"two scrape jobs share the name {', '.join(duplicates)}")
    doc = {
        "global": {
            "scrape_interval": SCRAPE_INTERVAL,
            "evaluation_interval": SCRAPE_INTERVAL,
            "external_labels": {"stack": stack},
        },
        "rule_files": [f"{PROMETHEUS_RULES}/*.yml"],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [ALERTMANAGER_ADDRESS]}]}]},
        "scrape_configs": jobs,
    }
    header = (
        f"# Rendered by components/workload/monitoring_config.py for stack {stack}; do not edit by hand.\n"
        f"# Regenerate: python -m ops monitoring-config --stack {stack} --write\n"
    )
    return header + yaml.safe_dump(doc, sort_keys=False, default_flow_style=False, width=120)


def rendered_prometheus_path(stack: str) -> Path:
    """The committed rendering of a stack's prometheus.yml, which promtool checks."""
    return PROMETHEUS_DIR / "rendered" / f"prometheus.{stack}.yml"


def retention_size_gb(data_volume_size_gb: int) -> int:
    share = math.floor(data_volume_size_gb * RETENTION_SHARE)
    return min(RETENTION_MAX_GB, max(RETENTION_MIN_GB, share))


def prometheus_flags(data_volume_size_gb: int) -> list[str]:
    """Prometheus' command line: size-based retention sized to the data volume, capped in time."""
    return [
        f"--config.file={PROMETHEUS_CONFIG}",
        "--storage.tsdb.path=/prometheus",
        f"--storage.tsdb.retention.size={retention_size_gb(data_volume_size_gb)}GB",
        f"--storage.tsdb.retention.time={RETENTION_MAX_TIME}",
    ]


def render_alertmanager(topic_arn: str, region: str) -> str:
    """alertmanager.yml with the stack's SNS topic and region filled in."""
    if not topic_arn.startswith("arn:") or ":sns:" not in topic_arn:
        raise ValueError(f"alert topic {topic_arn!r} is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>)")
    template = string.Template((ALERTMANAGER_DIR / "alertmanager.yml").read_text())
    return template.substitute(topic_arn=topic_arn, region=region)


def _tree(directory: Path, mount: str, pattern: str) -> dict[str, str]:
    return {f"{mount}/{p.relative_to(directory).as_posix()}": p.read_text() for p in sorted(directory.rglob(pattern))}


# Rules for Traefik as the public edge (edge: host); behind an ALB its CloudWatch alarms watch the same.
EDGE_HOST_RULES = "edge.yml"


def prometheus_files(prometheus_yml: str, edge_host: bool = False) -> dict[str, str]:
    files = {PROMETHEUS_CONFIG: prometheus_yml}
    rules = _tree(PROMETHEUS_DIR / "rules", PROMETHEUS_RULES, "*.yml")
    files.update({p: text for p, text in rules.items() if edge_host or not p.endswith(f"/{EDGE_HOST_RULES}")})
    return files


def alertmanager_templates() -> dict[str, str]:
    return _tree(ALERTMANAGER_DIR / "templates", "/etc/alertmanager/templates", "*.tmpl")


def alertmanager_files(alertmanager_yml: str) -> dict[str, str]:
    return {ALERTMANAGER_CONFIG: alertmanager_yml, **alertmanager_templates()}


def grafana_files() -> dict[str, str]:
    files = _tree(GRAFANA_DIR / "provisioning", GRAFANA_PROVISIONING, "*.yml")
    files.update(_tree(GRAFANA_DIR / "dashboards", GRAFANA_DASHBOARDS, "*.json"))
    return files


def blackbox_files() -> dict[str, str]:
    return {BLACKBOX_CONFIG: (BLACKBOX_DIR / "config.yml").read_text()}


def grafana_settings(grafana_host: str) -> dict[str, str]:
    """Grafana behind Traefik at its own host, with its own login: no anonymous access, no self sign-up.

    The admin password is not here: it arrives as a secret file (GF_SECURITY_ADMIN_PASSWORD__FILE).
    """
    return {
        "GF_SERVER_ROOT_URL": f"https://{grafana_host}/",
        "GF_SERVER_DOMAIN": grafana_host,
        "GF_SECURITY_ADMIN_USER": "admin",
        "GF_SECURITY_COOKIE_SECURE": "true",
        "GF_SECURITY_DISABLE_GRAVATAR": "true",
        "GF_AUTH_ANONYMOUS_ENABLED": "false",
        "GF_USERS_ALLOW_SIGN_UP": "false",
        "GF_ANALYTICS_REPORTING_ENABLED": "false",
        "GF_ANALYTICS_CHECK_FOR_UPDATES": "false",
        "GF_LOG_CONSOLE_FORMAT": "json",
        "GF_PATHS_PROVISIONING": GRAFANA_PROVISIONING,
    }


def internal_addresses(specs: Sequence[ServiceSpec]) -> dict[str, str]:
    """host:port on the Docker network of the service behind each entrypoint's catch-all route (app, cms)."""
    return {r.entrypoint: f"{s.name}:{r.port}" for s in specs for r in s.routing if r.host is None}


def monitoring_files(
    config: StackConfig,
    specs: Sequence[ServiceSpec],
    alert_topic_arn: pulumi.Input[str],
    public_probes: bool = True,
) -> dict[str, dict[str, pulumi.Input[str]]]:
    """Per monitoring service, the files delivered into its container (path -> content).

    A plain `alert_topic_arn` gives plain files (a local render); an Output gives an
    Output alertmanager.yml. `public_probes=False` leaves out the probes through the
    public names, for a machine that must not reach them (ops/local/compose.py).
    """
    internal = internal_addresses(specs)
    missing = sorted({"app", "cms"} - set(internal))
    if missing:
        raise ValueError(f"no service routes the {', '.join(missing)} entrypoint: nothing to probe internally")
    probes = health_probes(config.app_host, config.cms_host, APP_HEALTH_PATH, CMS_HEALTH_PATH, internal)
    if not public_probes:
        probes = [p for p in probes if p.probe != "public"]
    prometheus_yml = render_prometheus(config.stack, scrape_targets(specs), probes)
    alertmanager_yml: pulumi.Input[str]
    if isinstance(alert_topic_arn, str):
        alertmanager_yml = render_alertmanager(alert_topic_arn, config.region)
    else:
        alertmanager_yml = pulumi.Output.from_input(alert_topic_arn).apply(
            lambda arn: render_alertmanager(arn, config.region)
        )
    return {
        "prometheus": dict(prometheus_files(prometheus_yml, edge_host=config.edge == "host")),
        "alertmanager": {ALERTMANAGER_CONFIG: alertmanager_yml, **alertmanager_templates()},
        "grafana": dict(grafana_files()),
        "blackbox-exporter": dict(blackbox_files()),
    }
