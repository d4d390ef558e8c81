"""DNS cutover: point the app and cms names at a stack's load balancer, after checking it serves.

`python -m ops dns-cutover --stack prod --zone-id Z... [--dry-run] [--outputs FILE] [--rollback]`

1. Reads the stack outputs (`pulumi stack output --json --show-secrets`, or `--outputs FILE`).
2. Checks that every target group of the ALB has healthy targets and that the app and
   cms health paths answer 2xx through the ALB (TLS with the real host name).
3. Saves the current records to `.dns-cutover/<stack>-<zone>.json`, then UPSERTs Route53
   alias A records (and AAAA for a dualstack ALB) for both names in one change batch.
4. Waits until the change is INSYNC and prints the records before and after.

`--rollback` puts the saved records back. `--dry-run` prints the change and makes none.
Exit codes: 0 done, 2 bad input (missing outputs, unknown zone, names outside the
zone, no saved state), 1 a failed check or AWS error (unhealthy targets, health URL down).

Examples:
  python -m ops dns-cutover --stack prod --zone-id Z0123456789ABCDEFGHIJ --dry-run
  python -m ops dns-cutover --stack prod --zone-id Z0123456789ABCDEFGHIJ --outputs outputs.json
  python -m ops dns-cutover --stack prod --zone-id Z0123456789ABCDEFGHIJ --rollback
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

import botocore.exceptions

from ops.cli.args import seconds
from ops.dns.cutover import BadInput, cutover, rollback, zone_id
from ops.dns.health import CheckFailed


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", required=True, help="stack whose outputs name the load balancer and hosts")
    parser.add_argument(
        "--zone-id", required=True, type=zone_id, help="Route53 hosted zone id (Z...) that holds the app and cms names"
    )
    parser.add_argument("--dry-run", action="store_true", help="print what would change and change nothing")
    parser.add_argument("--rollback", action="store_true", help="restore the records saved by the last cutover")
    parser.add_argument("--outputs", type=Path, help="JSON file from `pulumi stack output --json --show-secrets`")
    parser.add_argument("--endpoint-url", help="AWS API endpoint (a local test server); default: the real AWS")
    parser.add_argument("--region", help="region of the load balancer; default: read from its DNS name")
    parser.add_argument(
        "--health-base-url",
        help="where to send the health requests (scheme://host[:port]); default: https://<albDnsName>",
    )
    parser.add_argument("--state-dir", type=Path, default=Path(".dns-cutover"), help="where saved records are kept")
    parser.add_argument("--wait-timeout", type=seconds, default=300.0, help="seconds to wait for INSYNC (default 300)")
    parser.add_argument("--poll-interval", type=seconds, default=5.0, help="seconds between INSYNC polls (default 5)")


def main(args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    try:
        if args.rollback:
            return rollback(args, out)
        return cutover(args, out)
    except BadInput as exc:
        err.write(f"error: {exc}\n")
        return 2
    except CheckFailed as exc:
        err.write(f"refused: {exc}\n")
        return 1
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        err.write(f"error: AWS call failed: {exc}\n")
        return 1
