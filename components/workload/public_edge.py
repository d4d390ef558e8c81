"""Traefik as the public edge (`edge: host`): TLS on the Elastic IP with Let's Encrypt certificates.

With edge `alb` the ALB terminates TLS and forwards to Traefik's `app` (:3000) and `cms`
(:8055) entrypoints. With edge `host` there is no ALB, and Traefik (the catalogue's
`traefik` spec, extended here) takes its place on the same routes:
- entrypoint `web` (:80) only redirects to HTTPS (301), as the ALB's HTTP listener;
- entrypoint `websecure` (:443) terminates TLS 1.2+ with one Let's Encrypt certificate for
  every public name (DNS-01 through Route53, components/aws/edge.py says why and what the
  host role may do for it) and routes each public name to the same Docker service the ALB
  path reaches: a file-provider router per route, `Host(<name>)` -> `<service>@docker`.
  The Docker provider routes only to containers whose Docker health check passes, so the
  health checks are the ones behind the ALB's target groups; anything else gets a 404.
The `app` and `cms` entrypoints stay (the internal probes and the local Compose file use
them); the security group opens only 80 and 443 then. The ALB's 5xx alarm becomes the
Prometheus rule EdgeErrorRate (services/prometheus/rules/edge.yml), delivered with this edge only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import yaml

from components.config import StackConfig
from components.workload.services import Port, ServiceSpec, Volume

CERT_RESOLVER = "letsencrypt"
ACME_VOLUME = Volume("traefik-acme", "/letsencrypt")
ACME_STORAGE = f"{ACME_VOLUME.target}/acme.json"
DYNAMIC_FILE = "/etc/traefik/dynamic/public-edge.yml"
PUBLIC_PORTS = {"web": 80, "websecure": 443}
# TLS 1.2 suites of the ALB's ELBSecurityPolicy-TLS13-1-2-2021-06 that are forward secret and AEAD;
# TLS 1.3 suites are not configurable (Go picks only safe ones).
TLS12_CIPHERS = (
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
)


def public_routers(specs: Sequence[ServiceSpec], site_hosts: Mapping[str, str]) -> dict[str, dict[str, object]]:
    """One websecure router per route of a spec: a host route keeps its host, a catch-all route gets its
    entrypoint's public name (`site_hosts`: app -> app.example.com, cms -> cms.example.com)."""
    routers: dict[str, dict[str, object]] = {}
    for spec in specs:
        for route in spec.routing:
            host = route.host or site_hosts[route.entrypoint]
            name = f"{spec.name}-{route.entrypoint}"
            routers[f"{name}-public"] = {
                "entryPoints": ["websecure"],
                "rule": f"Host(`{host}`)",
                "service": f"{name}@docker",
                "tls": {"certResolver": CERT_RESOLVER},
            }
    return routers


def render_dynamic(specs: Sequence[ServiceSpec], site_hosts: Mapping[str, str]) -> str:
    """The file provider's configuration: the public routers and the TLS options every one of them uses."""
    doc = {
        "http": {"routers": public_routers(specs, site_hosts)},
        "tls": {
            "options": {
                "default": {
                    "minVersion": "VersionTLS12",
                    "cipherSuites": list(TLS12_CIPHERS),
                    # A client that names no host, or another one, gets no certificate at all.
                    "sniStrict": True,
                }
            }
        },
    }
    header = "# Rendered by components/workload/public_edge.py (edge: host); do not edit by hand.\n"
    return header + yaml.safe_dump(doc, sort_keys=False, default_flow_style=False, width=120)


def acme_flags(hosts: Sequence[str], email: str) -> tuple[str, ...]:
    """Traefik's static configuration of the public entrypoints and the ACME (Let's Encrypt) resolver."""
    resolver = f"--certificatesresolvers.{CERT_RESOLVER}.acme"
    return (
        *(f"--entrypoints.{name}.address=:{port}" for name, port in PUBLIC_PORTS.items()),
        "--entrypoints.web.http.redirections.entrypoint.to=websecure",
        "--entrypoints.web.http.redirections.entrypoint.scheme=https",
        "--entrypoints.web.http.redirections.entrypoint.permanent=true",
        f"--entrypoints.websecure.http.tls.certresolver={CERT_RESOLVER}",
        # One certificate for every public name: one order, one renewal.
        f"--entrypoints.websecure.http.tls.domains[0].main={hosts[0]}",
        f"--entrypoints.websecure.http.tls.domains[0].sans={','.join(hosts[1:])}",
        f"--providers.file.filename={DYNAMIC_FILE}",
        f"{resolver}.email={email}",
        f"{resolver}.storage={ACME_STORAGE}",
        f"{resolver}.keytype=EC256",
        f"{resolver}.dnschallenge.provider=route53",
        # The Route53 provider returns once the change is INSYNC (every Route53 name server has it);
        # Traefik's own check would query the zone's name servers on port 53, which the host's
        # security group does not let out.
        f"{resolver}.dnschallenge.propagation.disableChecks=true",
    )


def with_public_edge(
    traefik: ServiceSpec,
    specs: Sequence[ServiceSpec],
    site_hosts: Mapping[str, str],
    hosts: Sequence[str],
    email: str,
    aws: Mapping[str, str],
) -> ServiceSpec:
    """`traefik` as the public edge: ports 80 and 443, the ACME resolver, its account and certificate
    kept on a volume (a restart must not order new certificates: Let's Encrypt limits them per week), and the
    public routers. `aws` is the Route53 provider's environment (AWS_REGION, AWS_HOSTED_ZONE_ID)."""
    return replace(
        traefik,
        command=(*traefik.command, *acme_flags(hosts, email)),
        env={**traefik.env, **aws},
        ports=(*traefik.ports, *(Port(port, port) for port in PUBLIC_PORTS.values())),
        volumes=(*traefik.volumes, ACME_VOLUME),
        config_files={**traefik.config_files, DYNAMIC_FILE: render_dynamic(specs, site_hosts)},
    )


def for_stack(config: StackConfig, specs: Sequence[ServiceSpec]) -> list[ServiceSpec]:
    """The specs, with `traefik` as the public edge when the stack's edge is `host`; unchanged for `alb`."""
    if config.edge != "host" or config.route53_zone_id is None:
        return list(specs)
    site_hosts = {"app": config.app_host, "cms": config.cms_host}
    hosts = (config.app_host, config.cms_host, config.grafana_host)
    aws = {"AWS_REGION": config.region, "AWS_HOSTED_ZONE_ID": config.route53_zone_id}
    return [
        with_public_edge(s, specs, site_hosts, hosts, config.alert_emails[0], aws) if s.name == "traefik" else s
        for s in specs
    ]
