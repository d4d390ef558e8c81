"""Test world for the DNS cutover: moto state for one stack, and a stand-in for its services.

`build_world` creates through the real AWS API (on the moto server) what a deployed
stack leaves behind: VPC, subnets, host instance, ALB, two target groups with the host
registered, and a public hosted zone with the records of the old site.
"""

from __future__ import annotations

import http.server
import itertools
import os
import socket
import ssl
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

REGION = "us-east-1"
DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_worlds = itertools.count()


def self_signed_certificate(directory: Path, *names: str) -> tuple[Path, Path]:
    """A certificate and key for `names`, made with openssl; the certificate is its own CA."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    san = ",".join(f"DNS:{n}" for n in names)
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ]
        + ["-subj", f"/CN={names[0]}", "-addext", f"subjectAltName={san}"],
        check=True,
        capture_output=True,
    )
    return cert, key


class HealthServer:
    """Answers 200 on the frontend and Directus health paths for the right Host, 503 when told to fail."""

    def __init__(self, tls: tuple[Path, Path] | None = None) -> None:
        self.seen: list[tuple[str, str]] = []
        self.server_names: list[str | None] = []
        self.failing: set[str] = set()
        routes = {"app.quintas-crm.example": "/api/health", "cms.quintas-crm.example": "/server/ping"}
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                host = (self.headers.get("Host") or "").split(":")[0]
                server.seen.append((host, self.path))
                ok = routes.get(host) == self.path and host not in server.failing
                self.send_response(200 if ok else 503)
                self.end_headers()
                self.wfile.write(b"ok" if ok else b"unavailable")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        scheme = "http"
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            context.sni_callback = lambda _sock, name, _ctx: self.server_names.append(name)
            self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
            scheme = "https"
        self.base_url = f"{scheme}://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@dataclass
class World:
    endpoint: str
    tmp: Path
    health: HealthServer
    zone_id: str
    instance_id: str
    outputs: dict[str, Any]
    route53: Any
    env: dict[str, str] = field(default_factory=dict)


def build_world(
    endpoint: str, tmp: Path, health: HealthServer, dualstack: bool = False, register_cms: bool = True
) -> World:
    # Unique names instead of a moto reset: a reset costs seconds of backend set-up per test.
    n = next(_worlds)
    ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=endpoint)
    elbv2 = boto3.client("elbv2", region_name=REGION, endpoint_url=endpoint)
    route53 = boto3.client("route53", region_name=REGION, endpoint_url=endpoint)

    vpc, subnets, instance_id = _host(ec2)

    alb = elbv2.create_load_balancer(
        Name=f"quintas-crm-prod-alb-{n}", Subnets=subnets, IpAddressType="dualstack" if dualstack else "ipv4"
    )["LoadBalancers"][0]
    groups = {}
    for name, port, path, register in (
        ("frontend", 3000, "/api/health", True),
        ("directus", 8055, "/server/ping", register_cms),
    ):
        group = elbv2.create_target_group(
            Name=f"quintas-crm-prod-{name}-{n}", Protocol="HTTP", Port=port, VpcId=vpc, HealthCheckPath=path
        )["TargetGroups"][0]
        groups[name] = group["TargetGroupArn"]
        if register:
            elbv2.register_targets(TargetGroupArn=group["TargetGroupArn"], Targets=[{"Id": instance_id, "Port": port}])
    _route_hosts(endpoint, alb["LoadBalancerArn"], groups)

    zone_id = _zone_with_old_records(route53, n)
    outputs = {
        "albDnsName": alb["DNSName"],
        "albZoneId": alb["CanonicalHostedZoneId"],
        "appUrl": "https://app.quintas-crm.example",
        "cmsUrl": "https://cms.quintas-crm.example",
        "hostInstanceId": instance_id,
    }
    env = dict(os.environ, **DUMMY_CREDENTIALS)
    return World(endpoint, tmp, health, zone_id, instance_id, outputs, route53, env)


def _host(ec2: Any) -> tuple[str, list[str], str]:
    """A VPC with two subnets and the instance in the first: (vpc id, subnet ids, instance id)."""
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{i}.0/24", AvailabilityZone=f"{REGION}{az}")["Subnet"][
            "SubnetId"
        ]
        for i, az in enumerate("ab")
    ]
    # Filtered: listing all of moto's ~1300 stock images takes seconds.
    image = ec2.describe_images(Owners=["amazon"], Filters=[{"Name": "name", "Values": ["*ubuntu*"]}])["Images"][0][
        "ImageId"
    ]
    instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.large", SubnetId=subnets[0])
    instance_id = instance["Instances"][0]["InstanceId"]
    return vpc, subnets, instance_id


def _zone_with_old_records(route53: Any, n: int) -> str:
    """The hosted zone as the old hosting left it (app, cms and www elsewhere); returns its id."""
    zone = route53.create_hosted_zone(Name="quintas-crm.example", CallerReference=f"quintas-{n}")["HostedZone"]
    zone_id = zone["Id"].split("/")[-1]
    old = [
        ("app.quintas-crm.example.", "A", "203.0.113.10"),
        ("cms.quintas-crm.example.", "CNAME", "old-cms.hosting.example."),
        ("www.quintas-crm.example.", "A", "203.0.113.11"),
    ]
    route53.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "CREATE",
                    "ResourceRecordSet": {
                        "Name": name,
                        "Type": kind,
                        "TTL": 300,
                        "ResourceRecords": [{"Value": value}],
                    },
                }
                for name, kind, value in old
            ]
        },
    )
    return zone_id


def _route_hosts(endpoint: str, alb_arn: str, groups: dict[str, str]) -> None:
    """The platform's HTTPS listener: app to the frontend group, cms by host header to Directus."""
    acm = boto3.client("acm", region_name=REGION, endpoint_url=endpoint)
    certificate = acm.request_certificate(
        DomainName="app.quintas-crm.example", SubjectAlternativeNames=["cms.quintas-crm.example"]
    )["CertificateArn"]
    elbv2 = boto3.client("elbv2", region_name=REGION, endpoint_url=endpoint)
    listener = elbv2.create_listener(
        LoadBalancerArn=alb_arn,
        Protocol="HTTPS",
        Port=443,
        SslPolicy="ELBSecurityPolicy-TLS13-1-2-2021-06",
        Certificates=[{"CertificateArn": certificate}],
        DefaultActions=[{"Type": "forward", "TargetGroupArn": groups["frontend"]}],
    )["Listeners"][0]
    elbv2.create_rule(
        ListenerArn=listener["ListenerArn"],
        Priority=10,
        Conditions=[{"Field": "host-header", "HostHeaderConfig": {"Values": ["cms.quintas-crm.example"]}}],
        Actions=[{"Type": "forward", "TargetGroupArn": groups["directus"]}],
    )


def host_edge_outputs(world: World) -> dict[str, Any]:
    """Edge `host`: an Elastic IP on the world's instance, and the outputs such a stack has (no ALB ones)."""
    ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=world.endpoint)
    address = ec2.allocate_address(Domain="vpc")
    ec2.associate_address(AllocationId=address["AllocationId"], InstanceId=world.instance_id)
    return {
        "appUrl": world.outputs["appUrl"],
        "cmsUrl": world.outputs["cmsUrl"],
        "hostInstanceId": world.instance_id,
        "hostPublicIp": address["PublicIp"],
    }
