"""Show, write or check the configuration files a stack delivers to its monitoring containers.

Runs the stack's program on the simulated engine and reads the files exactly as
they are uploaded into the containers (no cloud is contacted). `--write` stores
the stack's prometheus.yml under services/prometheus/rendered/, where promtool
and reviewers read it; `--check` exits 1 when that copy is out of date.
Exit 0 on success, 2 on invalid settings, 1 when the stack has no such container
or the committed copy differs.

Examples:
  python -m ops monitoring-config --stack prod
  python -m ops monitoring-config --stack prod --write
  python -m ops monitoring-config --stack staging --check
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from components.config import ConfigError
from components.workload.monitoring_config import PROMETHEUS_CONFIG, rendered_prometheus_path
from components.workload.services import CONFIG_DIGEST_LABEL, SECRETS_DIR
from ops.sim import engine

CONTAINER = "docker:index/container:Container"
MONITORING = ("prometheus", "alertmanager", "grafana", "blackbox-exporter")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", required=True, help="stack name; needs a Pulumi.<stack>.yaml file")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--write", action="store_true", help="write the stack's rendered prometheus.yml")
    action.add_argument("--check", action="store_true", help="exit 1 if the rendered prometheus.yml is stale")


def delivered_files(run: engine.Run, service: str) -> dict[str, str]:
    """The config files uploaded into a service's container (secret files left out), path -> content."""
    matches = [r for r in run.of_type(CONTAINER) if r.name == service]
    if not matches:
        raise LookupError(f"stack {run.stack!r} has no {service} container; is the ContainerStack in __main__.py?")
    uploads = engine.reveal(matches[0].inputs.get("uploads") or [])
    return {u["file"]: u["content"] for u in uploads if not u["file"].startswith(SECRETS_DIR + "/")}


def config_digest(run: engine.Run, service: str) -> str:
    """The digest label of a service's container: it changes whenever one of its files does."""
    container = next(r for r in run.of_type(CONTAINER) if r.name == service)
    labels = {entry["label"]: entry["value"] for entry in container.inputs.get("labels", [])}
    return labels[CONFIG_DIGEST_LABEL]


def main(args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    try:
        run = engine.run(args.stack)
        prometheus_yml = delivered_files(run, "prometheus")[PROMETHEUS_CONFIG]
    except (ConfigError, engine.SettingsFileError) as exc:
        err.write(f"error: {exc}\n")
        return 2
    except (LookupError, KeyError, engine.EngineError) as exc:
        err.write(f"error: {exc}\n")
        return 1
    path = rendered_prometheus_path(args.stack)
    if args.check:
        if not path.is_file() or path.read_text() != prometheus_yml:
            err.write(
                f"error: {path} is out of date; run: python -m ops monitoring-config --stack {args.stack} --write\n"
            )
            return 1
        out.write(f"{path} is current\n")
        return 0
    if args.write:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(prometheus_yml)
        out.write(f"wrote {path}\n")
        return 0
    for service in MONITORING:
        out.write(f"{service}: {CONFIG_DIGEST_LABEL}={config_digest(run, service)}\n")
        for file in sorted(delivered_files(run, service)):
            out.write(f"  {file}\n")
    out.write(f"\n# {PROMETHEUS_CONFIG}\n{prometheus_yml}")
    return 0
