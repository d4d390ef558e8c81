"""The DNS cutover's steps: read a stack's outputs, check its edge serves, move the records.

A stack's edge is its ALB (edge `alb`: the outputs name it; alias records) or, with edge
`host`, Traefik on the host's Elastic IP (no ALB outputs; plain A records to the
address, with a short TTL, since an address has no alias and no target health).

The verb is `python -m ops dns-cutover` (ops/cli/dns_cutover.py); each step here takes
the parsed arguments and raises BadInput or CheckFailed with the reason.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

import boto3
import botocore.exceptions

from ops.dns import health as dns_health
from ops.dns import records as dns_records
from ops.dns.health import CheckFailed
from ops.dns.records import Record

REQUIRED_OUTPUTS = ("albDnsName", "albZoneId", "appUrl", "cmsUrl")
HOST_EDGE_OUTPUTS = ("hostPublicIp", "hostInstanceId", "appUrl", "cmsUrl")
HOST_RECORD_TTL = 60  # seconds: a rollback of A records to an address reaches resolvers within a minute


class BadInput(Exception):
    """Input the operator must fix; exit 2."""


@dataclass(frozen=True)
class Target:
    alb_dns_name: str | None
    """The ALB's DNS name (edge `alb`); None with edge `host`."""
    alb_zone_id: str | None
    app_host: str
    cms_host: str
    host_ip: str | None = None
    """The host's Elastic IP, where Traefik terminates TLS (edge `host`); None with edge `alb`."""
    instance_id: str | None = None

    @property
    def names(self) -> tuple[str, str]:
        return (dns_records.fqdn(self.app_host), dns_records.fqdn(self.cms_host))


def cutover(args: argparse.Namespace, out: TextIO) -> int:
    target = read_target(load_outputs(args.stack, args.outputs))
    check_state_dir(args)
    route53 = _client("route53", args, "us-east-1")
    zone_name = check_zone(route53, args.zone_id, target.names)
    desired, base, edge = _alb_edge(args, target, out) if target.alb_dns_name else _host_edge(args, target, out)
    dns_health.check_urls(
        args.health_base_url or base, [(target.app_host, "/api/health"), (target.cms_host, "/server/ping")], out
    )

    before = dns_records.read_records(route53, args.zone_id, target.names)
    dns_records.print_records(f"Records in {zone_name} before", before, out)
    # The host has no IPv6 address: an AAAA left from an earlier (dualstack) target would keep IPv6 clients there.
    replaced = ("CNAME",) if target.alb_dns_name else ("CNAME", "AAAA")
    changes = dns_records.cutover_changes(before, desired, replaced)
    if not changes:
        out.write(f"Nothing to change: both names already point at the {edge}.\n")
        return 0
    out.write("Change:\n")
    dns_records.print_changes(changes, out)
    if args.dry_run:
        out.write("Dry run: nothing was changed.\n")
        return 0

    state_file = save_state(args, zone_name, before, out)
    change_id = dns_records.apply_changes(route53, args.zone_id, changes, f"dns-cutover {args.stack}")
    _wait(route53, change_id, args, out)
    dns_records.print_records(
        f"Records in {zone_name} after", dns_records.read_records(route53, args.zone_id, target.names), out
    )
    out.write(
        f"Cutover done. To undo: python -m ops dns-cutover --stack {args.stack} --zone-id {args.zone_id} --rollback\n"
    )
    out.write(f"(previous records saved in {state_file})\n")
    return 0


def _alb_edge(args: argparse.Namespace, target: Target, out: TextIO) -> tuple[list[Record], str, str]:
    """Edge `alb`: every target healthy; alias A (and AAAA when dualstack) records to the ALB."""
    alb, zone = target.alb_dns_name or "", target.alb_zone_id or ""
    elbv2 = _client("elbv2", args, args.region or region_of(alb))
    types = ("A", "AAAA") if dns_health.check_targets(elbv2, alb, out) else ("A",)
    desired = [dns_records.alias_record(name, t, alb, zone) for name in target.names for t in types]
    return desired, f"https://{alb}", "load balancer"


def _host_edge(args: argparse.Namespace, target: Target, out: TextIO) -> tuple[list[Record], str, str]:
    """Edge `host`: the instance runs and holds the Elastic IP; A records to that address."""
    ip, instance = target.host_ip or "", target.instance_id or ""
    ec2 = _client("ec2", args, args.region or _default_region(f"the host {instance}"))
    dns_health.check_host(ec2, instance, ip, out)
    desired = [dns_records.address_record(name, ip, HOST_RECORD_TTL) for name in target.names]
    return desired, f"https://{ip}", "host's Elastic IP"


def rollback(args: argparse.Namespace, out: TextIO) -> int:
    state_file = _state_path(args)
    if not state_file.is_file():
        raise BadInput(
            f"no saved records at {state_file}: rollback needs the state a cutover of this stack and zone wrote"
        )
    saved: dict[str, dict[str, Record | None]] = json.loads(state_file.read_text())["before"]
    route53 = _client("route53", args, "us-east-1")
    zone_name = check_zone(route53, args.zone_id, list(saved))
    now = dns_records.read_records(route53, args.zone_id, list(saved))
    dns_records.print_records(f"Records in {zone_name} now", now, out)
    changes = dns_records.rollback_changes(saved, now)
    if not changes:
        out.write("Nothing to change: the records already match the saved ones.\n")
        return 0
    out.write(f"Rollback to the records saved in {state_file}:\n")
    dns_records.print_changes(changes, out)
    if args.dry_run:
        out.write("Dry run: nothing was changed.\n")
        return 0
    change_id = dns_records.apply_changes(route53, args.zone_id, changes, f"dns-cutover rollback {args.stack}")
    _wait(route53, change_id, args, out)
    dns_records.print_records(
        f"Records in {zone_name} after", dns_records.read_records(route53, args.zone_id, list(saved)), out
    )
    done = state_file.with_suffix(".rolled-back.json")
    state_file.replace(done)
    out.write(f"Rollback done (saved records moved to {done}).\n")
    return 0


def load_outputs(stack: str, outputs_file: Path | None) -> dict[str, Any]:
    if outputs_file is not None:
        try:
            data = json.loads(outputs_file.read_text())
        except OSError as exc:
            raise BadInput(f"cannot read --outputs {outputs_file}: {exc.strerror}") from exc
        except UnicodeDecodeError as exc:
            raise BadInput(
                f"--outputs {outputs_file} is not UTF-8 text; write it with `pulumi stack output --json`"
            ) from exc
        except json.JSONDecodeError as exc:
            raise BadInput(
                f"--outputs {outputs_file} is not JSON ({exc}); write it with `pulumi stack output --json`"
            ) from exc
    else:
        data = _pulumi_outputs(stack)
    if not isinstance(data, dict):
        raise BadInput("the stack outputs must be a JSON object of output names to values")
    return data


def _pulumi_outputs(stack: str) -> Any:
    command = ["pulumi", "stack", "output", "--json", "--show-secrets", "--stack", stack]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    except FileNotFoundError as exc:
        raise BadInput(
            "the pulumi CLI is not installed here; pass --outputs FILE with the output of "
            f"`pulumi stack output --json --show-secrets --stack {stack}`"
        ) from exc
    if result.returncode != 0:
        raise BadInput(f"`{' '.join(command)}` failed: {result.stderr.strip() or result.stdout.strip()}")
    try:
        return json.loads(result.stdout)
    except json.JSONDecodeError as exc:
        raise BadInput(f"`{' '.join(command)}` printed no JSON ({exc})") from exc


def read_target(outputs: dict[str, Any]) -> Target:
    """The edge the outputs name: the ALB when they have albDnsName, else the host's Elastic IP (edge `host`)."""
    edge_host = "albDnsName" not in outputs and "hostPublicIp" in outputs
    required = HOST_EDGE_OUTPUTS if edge_host else REQUIRED_OUTPUTS
    missing = [key for key in required if not isinstance(outputs.get(key), str) or not outputs[key]]
    if missing:
        raise BadInput(f"stack outputs missing: {', '.join(missing)} (deploy the platform first: `pulumi up`)")
    hosts = {}
    for key in ("appUrl", "cmsUrl"):
        host = urlsplit(outputs[key]).hostname
        if not host:
            raise BadInput(f"stack output {key}={outputs[key]!r} is not a URL like https://app.example.com")
        hosts[key] = host
    if edge_host:
        return Target(None, None, hosts["appUrl"], hosts["cmsUrl"], outputs["hostPublicIp"], outputs["hostInstanceId"])
    return Target(outputs["albDnsName"], outputs["albZoneId"], hosts["appUrl"], hosts["cmsUrl"])


def check_zone(route53: Any, zone_id: str, names: Any) -> str:
    """The zone's name, after checking it is public, exists and holds every name."""
    try:
        zone = route53.get_hosted_zone(Id=zone_id)["HostedZone"]
    except botocore.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchHostedZone":
            raise BadInput(
                f"hosted zone {zone_id} does not exist; list zones with `aws route53 list-hosted-zones`"
            ) from exc
        raise
    zone_name = zone["Name"]
    outside = [n for n in names if not dns_records.zone_contains(zone_name, n)]
    if outside:
        raise BadInput(
            f"zone {zone_id} ({zone_name}) does not contain {', '.join(outside)}; pass the zone of these names"
        )
    if zone.get("Config", {}).get("PrivateZone"):
        raise BadInput(f"zone {zone_id} ({zone_name}) is private; the cutover needs the public zone")
    return zone_name


def region_of(alb_dns_name: str) -> str:
    """An ALB's region from its DNS name (<name>-<id>.<region>.elb.amazonaws.com)."""
    parts = alb_dns_name.lower().rstrip(".").split(".")
    if len(parts) >= 4 and parts[-3:] == ["elb", "amazonaws", "com"]:
        return parts[-4]
    return _default_region(alb_dns_name)


def _default_region(what: str) -> str:
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not region:
        raise BadInput(f"cannot tell the region of {what}; pass --region")
    return region


def check_state_dir(args: argparse.Namespace) -> None:
    """Before any AWS call: the records a rollback needs must have somewhere to be saved."""
    state_dir = Path(args.state_dir)
    existing = next((p for p in (state_dir, *state_dir.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise BadInput(
            f"--state-dir {state_dir}: {existing} is not a directory; give a directory for the saved records"
        )
    if existing is not None and not os.access(existing, os.W_OK):
        raise BadInput(f"--state-dir {state_dir}: {existing} is not writable; the records a rollback needs go there")


def save_state(args: argparse.Namespace, zone_name: str, before: dict[str, Any], out: TextIO) -> Path:
    """Write the records to restore; an earlier unrolled cutover's originals are kept, not overwritten."""
    path = _state_path(args)
    if path.is_file():
        out.write(f"Keeping the records saved by an earlier cutover in {path} (roll back restores those).\n")
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "stack": args.stack,
        "zoneId": args.zone_id,
        "zoneName": zone_name,
        "savedAt": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "before": before,
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)
    out.write(f"Saved the current records to {path}.\n")
    return path


def zone_id(value: str) -> str:
    zone_id = value.strip().removeprefix("/hostedzone/")
    if not zone_id.isalnum() or not zone_id.isupper():
        raise argparse.ArgumentTypeError(f"{value!r} is not a hosted zone id such as Z0123456789ABCDEFGHIJ")
    return zone_id


def _state_path(args: argparse.Namespace) -> Path:
    return Path(args.state_dir) / f"{args.stack}-{args.zone_id}.json"


def _wait(route53: Any, change_id: str, args: argparse.Namespace, out: TextIO) -> None:
    out.write(f"Waiting for change {change_id} to be INSYNC (at most {args.wait_timeout:.0f}s):\n")
    if not dns_records.wait_insync(route53, change_id, out, args.wait_timeout, args.poll_interval):
        raise CheckFailed(
            f"change {change_id} was submitted but is not INSYNC after {args.wait_timeout:.0f}s; "
            f"check it with `aws route53 get-change --id {change_id}`"
        )


def _client(service: str, args: argparse.Namespace, region: str) -> Any:
    return boto3.client(service, region_name=region, endpoint_url=args.endpoint_url)  # pyright: ignore[reportCallIssue, reportArgumentType]
