"""Route53 record sets for the DNS cutover: read, plan the change (alias or address records), apply it, wait, print.

Works on plain boto3 record-set dicts (the shape `list_resource_record_sets` returns)
so that the saved state file can be replayed as-is on rollback. Knows nothing about
stacks or load balancers; `ops.dns.cutover` drives it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any, TextIO

Record = dict[str, Any]
# Record types the cutover owns at a name: the alias targets, plus a CNAME it must
# remove, because Route53 refuses an A record next to a CNAME of the same name.
OWNED_TYPES = ("A", "AAAA", "CNAME")


def fqdn(name: str) -> str:
    """Route53's spelling of a name: lower case, with the trailing dot."""
    name = name.strip().lower()
    return name if name.endswith(".") else name + "."


def zone_contains(zone_name: str, name: str) -> bool:
    zone, host = fqdn(zone_name), fqdn(name)
    return host == zone or host.endswith("." + zone)


def read_records(route53: Any, zone_id: str, names: Iterable[str]) -> dict[str, dict[str, Record | None]]:
    """The current A, AAAA and CNAME record sets of each name ({name: {type: record or None}})."""
    wanted = {fqdn(n) for n in names}
    found: dict[str, dict[str, Record | None]] = {n: dict.fromkeys(OWNED_TYPES) for n in sorted(wanted)}
    paginator = route53.get_paginator("list_resource_record_sets")
    for page in paginator.paginate(HostedZoneId=zone_id):
        for record in page["ResourceRecordSets"]:
            name = fqdn(_unescape(record["Name"]))
            if name in wanted and record["Type"] in OWNED_TYPES and "SetIdentifier" not in record:
                found[name][record["Type"]] = _clean(record)
    return found


def alias_record(name: str, record_type: str, alb_dns_name: str, alb_zone_id: str) -> Record:
    return {
        "Name": fqdn(name),
        "Type": record_type,
        "AliasTarget": {
            "HostedZoneId": alb_zone_id,
            "DNSName": fqdn(alb_dns_name),
            # Route53 stops answering with an ALB whose targets are all unhealthy.
            "EvaluateTargetHealth": True,
        },
    }


def address_record(name: str, address: str, ttl: int) -> Record:
    """A plain A record to one IPv4 address (the host's Elastic IP: an address has no alias)."""
    return {"Name": fqdn(name), "Type": "A", "TTL": ttl, "ResourceRecords": [{"Value": address}]}


def cutover_changes(
    before: dict[str, dict[str, Record | None]], desired: list[Record], replaced: tuple[str, ...] = ("CNAME",)
) -> list[dict[str, Any]]:
    """The change batch that makes `desired` true: delete the `replaced` types it does not set at its names
    (a CNAME conflicts with an A record), upsert what differs."""
    changes: list[dict[str, Any]] = []
    setting = {(r["Name"], r["Type"]) for r in desired}
    for record in desired:
        current = before[record["Name"]]
        for kind in replaced:
            old = current.get(kind)
            stale = old is not None and (record["Name"], kind) not in setting
            if stale and not any(c["ResourceRecordSet"] == old for c in changes):
                changes.append({"Action": "DELETE", "ResourceRecordSet": old})
        if not same_record(current.get(record["Type"]), record):
            changes.append({"Action": "UPSERT", "ResourceRecordSet": record})
    return changes


def rollback_changes(
    saved: dict[str, dict[str, Record | None]], now: dict[str, dict[str, Record | None]]
) -> list[dict]:
    """The change batch that puts every saved record set back and removes what the cutover added."""
    deletes: list[dict[str, Any]] = []
    restores: list[dict[str, Any]] = []
    for name, types in saved.items():
        for record_type in OWNED_TYPES:
            old, current = types.get(record_type), now.get(name, {}).get(record_type)
            if old is None and current is not None:
                deletes.append({"Action": "DELETE", "ResourceRecordSet": current})
            elif old is not None and not same_record(current, old):
                restores.append({"Action": "UPSERT", "ResourceRecordSet": old})
    # Deletes first: a CNAME can come back only once the alias records at its name are gone.
    return deletes + restores


def same_record(a: Record | None, b: Record | None) -> bool:
    if a is None or b is None:
        return a is b
    return _normalised(a) == _normalised(b)


def apply_changes(route53: Any, zone_id: str, changes: list[dict[str, Any]], comment: str) -> str:
    """Submit one atomic change batch; returns the change id."""
    response = route53.change_resource_record_sets(
        HostedZoneId=zone_id, ChangeBatch={"Comment": comment, "Changes": changes}
    )
    return response["ChangeInfo"]["Id"]


def wait_insync(
    route53: Any,
    change_id: str,
    out: TextIO,
    timeout: float,
    interval: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> bool:
    """Poll get_change until INSYNC or `timeout` seconds; a progress line per poll. True when in sync."""
    start = clock()
    while True:
        status = route53.get_change(Id=change_id)["ChangeInfo"]["Status"]
        elapsed = clock() - start
        out.write(f"  change {change_id}: {status} after {elapsed:.0f}s\n")
        if status == "INSYNC":
            return True
        if elapsed + interval > timeout:
            return False
        sleep(interval)


def describe(record: Record | None) -> str:
    if record is None:
        return "(none)"
    alias = record.get("AliasTarget")
    if alias:
        health = ", evaluate target health" if alias.get("EvaluateTargetHealth") else ""
        return f"ALIAS {alias['DNSName']} (zone {alias['HostedZoneId']}{health})"
    values = ", ".join(r["Value"] for r in record.get("ResourceRecords", []))
    return f"{values} (ttl {record.get('TTL')})"


def print_records(title: str, records: dict[str, dict[str, Record | None]], out: TextIO) -> None:
    out.write(f"{title}:\n")
    for name, types in sorted(records.items()):
        shown = [(t, r) for t, r in types.items() if r is not None] or [("A", None)]
        for record_type, record in shown:
            out.write(f"  {name:40} {record_type:5} {describe(record)}\n")


def print_changes(changes: list[dict[str, Any]], out: TextIO) -> None:
    for change in changes:
        record = change["ResourceRecordSet"]
        out.write(f"  {change['Action']:6} {record['Name']:40} {record['Type']:5} {describe(record)}\n")


def _clean(record: Record) -> Record:
    """A record set as Route53 accepts it back in a change batch."""
    record = dict(record)
    record["Name"] = fqdn(_unescape(record["Name"]))
    if "AliasTarget" in record:
        alias = dict(record["AliasTarget"])
        alias["DNSName"] = fqdn(alias["DNSName"])
        record["AliasTarget"] = alias
    return record


def _normalised(record: Record) -> Record:
    record = _clean(record)
    if "ResourceRecords" in record:
        record["ResourceRecords"] = sorted(r["Value"] for r in record["ResourceRecords"])
    return record


def _unescape(name: str) -> str:
    # Route53 returns `*` and a few other characters octal-escaped (\052).
    return name.replace("\\052", "*")
