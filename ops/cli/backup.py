"""Backups of a stack's database: `verify` their freshness, `restore` them (PITR) and check the data.

  python -m ops backup verify --stack prod [--bucket B | --outputs FILE] [--endpoint-url URL]
  python -m ops backup restore --stack prod --to latest|TIME --target-dir DIR [--verify-table T ...]

`/opt/barman/bin/python3 -m ops.cli.backup ...` is the same command inside the postgres
image (whose PostgreSQL version the restore must match), where only this package,
barman and boto3 are present.

The bucket comes from --bucket, or from --outputs FILE holding `pulumi stack output
--json` (key backupsBucket). Exit codes: 0 ok, 1 a check or the restore failed,
2 bad input (nothing was changed).

Examples:
  python -m ops backup verify --stack prod --outputs outputs.json
  python -m ops backup restore --stack prod --outputs outputs.json --to latest --target-dir /srv/data/postgres-restore
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any, TextIO

from components.backups import BARMAN_SERVER, CRM_DATABASE, SUPERUSER, BackupTarget
from ops.backup import restore
from ops.backup import verify as backup_verify
from ops.backup.postgres_local import ServerError, find_pg_bin
from ops.cli.args import seconds

ROOT = Path(__file__).resolve().parents[2]
_STACK = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")


class InputError(Exception):
    pass


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    verify = sub.add_parser(
        "verify",
        help="check that base backups, WAL and dumps are fresh and archiving is not behind",
        description="Check the stack's backups, reading only the backups bucket, one line per check:\n"
        "the newest base backup finished less than 26 hours ago, a WAL segment arrived within\n"
        "3 x archive_timeout, the newest dump exists and is not empty, and archiving is not behind:\n"
        "at the archive_command's last call at most 4 finished segments were not in the bucket yet.\n"
        "Exit 0 all fresh, 1 a check failed, 2 bad input.\n\n"
        "Examples:\n"
        "  python -m ops backup verify --stack prod --outputs outputs.json\n"
        "  python -m ops backup verify --stack staging --bucket quintas-crm-staging-backups-123456789012",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common(verify)
    verify.add_argument("--archive-timeout", type=int, help="seconds; default: archiveTimeoutSeconds of the stack")
    rest = sub.add_parser(
        "restore",
        help="restore a base backup and replay WAL into a new directory, then verify",
        description="Restore the newest base backup (or the newest that ended before --to) into a new or\n"
        "empty --target-dir, replay WAL up to --to (`latest`: to the end of the archive) on a local\n"
        "PostgreSQL that never archives, then verify: row counts of every table, checksums of the\n"
        "--verify-table tables, postgis_full_version(). Nothing is written to the bucket.\n"
        "Exit 0 restored and verified, 1 the restore or a check failed, 2 bad input (nothing changed).\n\n"
        "Examples:\n"
        "  python -m ops backup restore --stack prod --outputs outputs.json --to latest \\\n"
        "      --target-dir /srv/data/postgres-restore\n"
        "  python -m ops backup restore --stack prod --outputs outputs.json --to 2026-11-28T01:29:00-06:00 \\\n"
        "      --target-dir /srv/data/postgres-restore --verify-table public.payments",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common(rest)
    rest.add_argument("--to", required=True, help="`latest` or an ISO time, e.g. 2026-11-28T01:30:00-06:00")
    rest.add_argument("--target-dir", required=True, type=Path, help="a new or empty directory")
    rest.add_argument("--verify-table", action="append", default=[], help="a key table to checksum (repeatable)")
    rest.add_argument("--database", default=CRM_DATABASE, help=f"database to verify (default {CRM_DATABASE})")
    rest.add_argument(
        "--db-user",
        default=SUPERUSER,
        help=f"role to verify as: the cluster's superuser, who reads every schema (default {SUPERUSER})",
    )
    rest.add_argument("--pg-bin", help="PostgreSQL bin directory (default: newest /usr/lib/postgresql/*/bin)")
    rest.add_argument("--timeout", type=seconds, default=3600, help="seconds to wait for recovery (default 3600)")
    rest.add_argument("--report-json", type=Path, help="also write the verification report to this file")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", required=True, help="stack name: backups live under postgres/<stack>/")
    parser.add_argument("--bucket", help="the backups bucket (default: backupsBucket from --outputs)")
    parser.add_argument("--outputs", type=Path, help="file with `pulumi stack output --json`")
    parser.add_argument("--endpoint-url", help="S3 endpoint of an S3-compatible server (default: AWS)")
    parser.add_argument("--server", default=BARMAN_SERVER, help=f"Barman server name (default {BARMAN_SERVER})")


def resolve_target(args: argparse.Namespace) -> BackupTarget:
    if not _STACK.fullmatch(args.stack):
        raise InputError(f"--stack {args.stack!r} is not a stack name (lower-case letters, digits, -)")
    bucket = args.bucket
    if not bucket and args.outputs:
        try:
            outputs = json.loads(Path(args.outputs).read_text())
        except (OSError, ValueError) as exc:
            raise InputError(
                f"cannot read --outputs {args.outputs}: {exc}; write it with `pulumi stack output --json`"
            ) from exc
        bucket = outputs.get("backupsBucket") if isinstance(outputs, dict) else None
        if not isinstance(bucket, str) or not bucket:
            raise InputError(f"--outputs {args.outputs} has no backupsBucket output; pass --bucket NAME instead")
    if not bucket:
        raise InputError("no bucket: pass --bucket NAME or --outputs FILE (from `pulumi stack output --json`)")
    return BackupTarget(bucket=bucket, stack=args.stack, server=args.server, endpoint_url=args.endpoint_url)


def stack_archive_timeout(stack: str) -> int:
    # Here, not at the top: the restore also runs in the postgres image, which has no PyYAML.
    from components.config_limits import DEFAULT_ARCHIVE_TIMEOUT_SECONDS
    from ops.sim import engine

    try:
        settings, _ = engine.load_stack_settings(stack, ROOT)
    except engine.SettingsFileError as exc:
        raise InputError(f"{exc}: pass --archive-timeout SECONDS") from exc
    value = settings.get(f"{engine.PROJECT}:archiveTimeoutSeconds", str(DEFAULT_ARCHIVE_TIMEOUT_SECONDS))
    if not value.isascii() or not value.isdigit() or int(value) < 1:
        raise InputError(f"archiveTimeoutSeconds in Pulumi.{stack}.yaml is {value!r}, not a number of seconds")
    return int(value)


def _verify(args: argparse.Namespace, out: TextIO) -> int:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    target = resolve_target(args)
    timeout = args.archive_timeout if args.archive_timeout is not None else stack_archive_timeout(args.stack)
    if timeout < 1:
        raise InputError(f"--archive-timeout {timeout} must be at least 1 second")
    s3: Any = boto3.client("s3", endpoint_url=target.endpoint_url)
    out.write(f"backups of stack {target.stack} in s3://{target.bucket} (archive_timeout {timeout}s)\n")
    try:
        checks = backup_verify.run_checks(s3, target, timeout)
    except (BotoCoreError, ClientError) as exc:
        out.write(f"FAIL  cannot read s3://{target.bucket}: {exc}\n")
        return 1
    for check in checks:
        out.write(check.line() + "\n")
    failed = [c.name for c in checks if not c.ok]
    out.write(f"{'FAILED: ' + ', '.join(failed) if failed else 'all backup checks passed'}\n")
    return 1 if failed else 0


def _restore(args: argparse.Namespace, out: TextIO) -> int:
    target = resolve_target(args)
    target_dir = args.target_dir.resolve()
    try:
        restore.parse_target(args.to)
        restore.check_table_names(args.verify_table)
        restore.check_target_dir(target_dir)
        restore.check_report_path(args.report_json)
        pg_bin = find_pg_bin(args.pg_bin)
    except (restore.RestoreError, ServerError) as exc:
        raise InputError(str(exc)) from exc

    def progress(line: str) -> None:
        out.write(line + "\n")
        out.flush()

    report = restore.restore(
        target, args.to, target_dir, pg_bin, args.verify_table, args.database, args.timeout, progress, args.db_user
    )
    out.write(restore.render(report) + "\n")
    if args.report_json:
        args.report_json.write_text(json.dumps(report.as_dict(), indent=2))
    return 0


def main(args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    try:
        return _verify(args, out) if args.action == "verify" else _restore(args, out)
    except InputError as exc:
        err.write(f"error: {exc}\n")
        return 2
    except (restore.RestoreError, ServerError) as exc:
        err.write(f"error: {exc}\n")
        return 1


if __name__ == "__main__":
    _parser = argparse.ArgumentParser(
        prog="python -m ops.cli.backup", description=(__doc__ or "").strip().splitlines()[0]
    )
    add_arguments(_parser)
    sys.exit(main(_parser.parse_args()))
