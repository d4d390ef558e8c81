"""Render a stack's services as a Compose file for local development, with no cloud.

Examples:
  python -m ops compose --stack staging --init-secrets > docker-compose.yml
  python -m ops compose --stack prod > docker-compose.prod.yml
  docker-compose up

The same ServiceSpecs as the host runs, with the same configuration files for
Prometheus, Alertmanager, blackbox and Grafana, changed only where a machine
without the cloud differs (`LOCAL_ENV` and `_localize` list every change):
ports bound to 127.0.0.1, named volumes instead of /srv/data, the json-file log
driver instead of CloudWatch, local bucket names, Grafana at grafana.localhost,
no probes through the public names, and one local AWS API server (`aws-local`,
moto) in place of S3 and SNS: uploads, WAL archiving, base backups and alert
notifications all go there. Secrets are files under local/secrets/ that the
developer creates (`--init-secrets` writes random ones for any missing); no real
secret value is ever read or written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

import yaml

from components.config import ConfigError
from ops.local.compose import SECRETS_DIR, ComposeError, config_files, init_secrets, render
from ops.sim import engine


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", required=True, help="stack whose services to render; needs Pulumi.<stack>.yaml")
    parser.add_argument(
        "--init-secrets",
        action="store_true",
        help=f"write a random value to every missing secret file under {SECRETS_DIR}/ (mode 0644: containers run as their own users and must read it)",
    )
    parser.add_argument("--dir", default=".", help="project directory the Compose file will live in (default: .)")


def main(args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    try:
        config = engine.stack_config(args.stack)
        document = render(config)
    except (ConfigError, engine.SettingsFileError) as exc:
        err.write(f"error: {exc}\n")
        return 2
    except ComposeError as exc:
        err.write(f"error: {exc}\n")
        return 1
    root = Path(args.dir)
    if root.exists() and not root.is_dir():
        err.write(f"error: --dir {root} is not a directory: give the project directory the Compose file will live in\n")
        return 2
    if args.init_secrets:
        init_secrets(root, err)
    for path, content in config_files(config).items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(content)
    out.write(f"# Rendered by `python -m ops compose --stack {config.stack}` from the stack's ServiceSpecs.\n")
    out.write(f"# Secrets are read from {SECRETS_DIR}/<name>; `--init-secrets` creates the missing ones.\n")
    yaml.safe_dump(document, out, sort_keys=False, default_flow_style=False)
    return 0
