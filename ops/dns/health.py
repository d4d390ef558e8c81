"""Readiness checks before a DNS cutover: ALB target health (or, with edge `host`, the host running
with its Elastic IP) and the services' health paths.

The health requests go to the load balancer itself (not to the names, which may still
point at the old site), with TLS server name and Host header set to the real host name,
so they pass the ALB's host rules and certificate exactly as a browser will after the
cutover.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from typing import Any, TextIO
from urllib.parse import urlsplit

import botocore.exceptions


class CheckFailed(Exception):
    """The new target is not ready, or a check could not run; the cutover refuses (exit 1)."""


def check_targets(elbv2: Any, alb_dns_name: str, out: TextIO) -> bool:
    """Refuse unless every target group of the ALB has targets, all healthy. Returns: is it dualstack."""
    alb = _find_load_balancer(elbv2, alb_dns_name)
    out.write(f"Load balancer {alb['LoadBalancerName']} ({alb.get('IpAddressType', 'ipv4')}):\n")
    groups = elbv2.describe_target_groups(LoadBalancerArn=alb["LoadBalancerArn"])["TargetGroups"]
    if not groups:
        raise CheckFailed(f"load balancer {alb['LoadBalancerName']} has no target groups; deploy the platform first")
    problems: list[str] = []
    for group in groups:
        health = elbv2.describe_target_health(TargetGroupArn=group["TargetGroupArn"])["TargetHealthDescriptions"]
        if not health:
            problems.append(f"target group {group['TargetGroupName']} has no registered targets")
        for entry in health:
            state = entry["TargetHealth"]["State"]
            target = f"{entry['Target']['Id']}:{entry['Target'].get('Port', group.get('Port'))}"
            reason = entry["TargetHealth"].get("Reason", "")
            out.write(f"  {group['TargetGroupName']:32} {target:28} {state} {reason}\n")
            if state != "healthy":
                problems.append(
                    f"{group['TargetGroupName']} target {target} is {state} ({reason or 'no reason given'})"
                )
    if problems:
        raise CheckFailed("targets are not healthy: " + "; ".join(problems))
    return alb.get("IpAddressType") in ("dualstack", "dualstack-without-public-ipv4")


def check_host(ec2: Any, instance_id: str, address: str, out: TextIO) -> None:
    """Edge `host`: refuse unless the instance is running and holds `address` (its Elastic IP)."""
    try:
        reservations = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    except botocore.exceptions.ClientError as exc:
        raise CheckFailed(f"no instance {instance_id} here ({exc}); is hostInstanceId from this stack?") from exc
    instance = reservations[0]["Instances"][0]
    state, public = instance["State"]["Name"], instance.get("PublicIpAddress")
    out.write(f"Host {instance_id}: {state}, public address {public or '(none)'}\n")
    if state != "running":
        raise CheckFailed(
            f"host {instance_id} is {state}, not running (a stopped staging host: start it, or wait for its schedule)"
        )
    if public != address:
        raise CheckFailed(
            f"host {instance_id} has the public address {public or '(none)'}, not the Elastic IP {address}"
        )


def check_urls(base_url: str, checks: list[tuple[str, str]], out: TextIO, timeout: float = 5.0) -> None:
    """GET each (host, path) at `base_url` with that Host; refuse unless every one answers 2xx."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CheckFailed(f"health base URL {base_url!r} must look like https://host[:port]")
    failures = []
    for host, path in checks:
        status, detail = _get(parts.scheme, parts.hostname, parts.port, host, path, timeout)
        out.write(f"  GET https://{host}{path} via {base_url}: {detail}\n")
        if status is None or not 200 <= status < 300:
            failures.append(f"https://{host}{path} answered {detail}")
    if failures:
        raise CheckFailed("health checks failed: " + "; ".join(failures))


def _find_load_balancer(elbv2: Any, dns_name: str) -> dict[str, Any]:
    wanted = dns_name.lower().rstrip(".")
    for page in elbv2.get_paginator("describe_load_balancers").paginate():
        for alb in page["LoadBalancers"]:
            if alb["DNSName"].lower().rstrip(".") == wanted:
                return alb
    raise CheckFailed(f"no load balancer named {dns_name} in this account and region (is albDnsName from this stack?)")


def _get(scheme: str, address: str, port: int | None, host: str, path: str, timeout: float) -> tuple[int | None, str]:
    if scheme == "https":
        conn: http.client.HTTPConnection = _NamedHTTPSConnection(address, port, server_name=host, timeout=timeout)
    else:
        conn = http.client.HTTPConnection(address, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Host": host, "User-Agent": "quintas-dns-cutover"})
        response = conn.getresponse()
        response.read(4096)
        return response.status, f"{response.status} {response.reason}"
    except (OSError, http.client.HTTPException) as exc:
        return None, f"no answer ({exc.__class__.__name__}: {exc})"
    finally:
        conn.close()


class _NamedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to one address while presenting and verifying another host name (SNI + certificate)."""

    def __init__(self, address: str, port: int | None, server_name: str, timeout: float) -> None:
        super().__init__(address, port, timeout=timeout, context=ssl.create_default_context())
        self._server_name = server_name

    def connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self._server_name)  # pyright: ignore[reportAttributeAccessIssue]
