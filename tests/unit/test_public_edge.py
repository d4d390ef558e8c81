"""Traefik as the public edge (`edge: host`): its rendered static flags and dynamic file, checked for shape.

No Traefik binary or image runs here (the rehearsal has no stand-in for it) and Let's Encrypt is never
contacted: these tests parse what the stack delivers and check it says what the ALB path does: the
HTTP entrypoint only redirects, HTTPS ends with TLS 1.2+ and one certificate for every public name,
and each public name reaches the same Docker service the ALB's target groups reach.
"""

from __future__ import annotations

import re

import yaml

from components.workload.public_edge import (
    ACME_STORAGE,
    DYNAMIC_FILE,
    acme_flags,
    public_routers,
    render_dynamic,
    with_public_edge,
)
from components.workload.services import HealthCheck, Image, Port, Routing, ServiceSpec

HOSTS = ("app.example.com", "cms.example.com", "grafana.example.com")
SITES = {"app": "app.example.com", "cms": "cms.example.com"}
FLAG = re.compile(r"\A--[a-z][A-Za-z0-9.\[\]]*=\S+\Z")


def _spec(name: str, *routing: Routing) -> ServiceSpec:
    return ServiceSpec(name, Image("x", "1"), HealthCheck(("true",)), 64, 0.1, routing=routing)


SPECS = [
    _spec("frontend", Routing("app", 3000)),
    _spec("directus", Routing("cms", 8055)),
    _spec("grafana", Routing("app", 3000, host="grafana.example.com")),
    _spec("redis"),
]


def _flags(flags: tuple[str, ...]) -> dict[str, str]:
    assert all(FLAG.fullmatch(f) for f in flags), [f for f in flags if not FLAG.fullmatch(f)]
    return dict(f[2:].split("=", 1) for f in flags)


def test_http_only_redirects_permanently_to_https() -> None:
    flags = _flags(acme_flags(HOSTS, "ops@example.com"))
    assert flags["entrypoints.web.address"] == ":80"
    assert flags["entrypoints.websecure.address"] == ":443"
    assert flags["entrypoints.web.http.redirections.entrypoint.to"] == "websecure"
    assert flags["entrypoints.web.http.redirections.entrypoint.scheme"] == "https"
    assert flags["entrypoints.web.http.redirections.entrypoint.permanent"] == "true"


def test_one_lets_encrypt_certificate_for_every_name_by_dns01_through_route53() -> None:
    flags = _flags(acme_flags(HOSTS, "ops@example.com"))
    resolver = "certificatesresolvers.letsencrypt.acme"
    assert flags[f"{resolver}.dnschallenge.provider"] == "route53"
    assert not any(".httpchallenge" in key or ".tlschallenge" in key for key in flags)
    assert flags[f"{resolver}.email"] == "ops@example.com"
    assert flags[f"{resolver}.storage"] == ACME_STORAGE
    assert "caserver" not in {k.rsplit(".", 1)[-1].lower() for k in flags}, (
        "Let's Encrypt's production CA (the default)"
    )
    assert flags["entrypoints.websecure.http.tls.certresolver"] == "letsencrypt"
    assert flags["entrypoints.websecure.http.tls.domains[0].main"] == "app.example.com"
    assert flags["entrypoints.websecure.http.tls.domains[0].sans"] == "cms.example.com,grafana.example.com"
    assert flags["providers.file.filename"] == DYNAMIC_FILE


def test_each_public_name_reaches_the_docker_service_the_alb_path_reaches() -> None:
    routers = public_routers(SPECS, SITES)
    assert routers == {
        "frontend-app-public": {
            "entryPoints": ["websecure"],
            "rule": "Host(`app.example.com`)",
            "service": "frontend-app@docker",
            "tls": {"certResolver": "letsencrypt"},
        },
        "directus-cms-public": {
            "entryPoints": ["websecure"],
            "rule": "Host(`cms.example.com`)",
            "service": "directus-cms@docker",
            "tls": {"certResolver": "letsencrypt"},
        },
        "grafana-app-public": {
            "entryPoints": ["websecure"],
            "rule": "Host(`grafana.example.com`)",
            "service": "grafana-app@docker",
            "tls": {"certResolver": "letsencrypt"},
        },
    }


def test_the_dynamic_file_is_yaml_with_tls_12_or_later_and_strict_sni() -> None:
    doc = yaml.safe_load(render_dynamic(SPECS, SITES))
    assert set(doc) == {"http", "tls"}
    options = doc["tls"]["options"]["default"]
    assert options["minVersion"] == "VersionTLS12" and options["sniStrict"] is True
    assert all(s.startswith("TLS_ECDHE_") and ("GCM" in s or "CHACHA20" in s) for s in options["cipherSuites"])


def test_the_edge_adds_to_traefik_and_keeps_what_it_had() -> None:
    traefik = ServiceSpec(
        "traefik",
        Image("traefik", "v3"),
        None,
        96,
        0.5,
        command=("--ping=true",),
        ports=(Port(3000, 3000), Port(8055, 8055)),
    )
    edge = with_public_edge(traefik, SPECS, SITES, HOSTS, "ops@example.com", {"AWS_REGION": "us-east-1"})
    assert edge.command[0] == "--ping=true" and len(edge.command) > 1
    assert [p.host for p in edge.ports] == [3000, 8055, 80, 443]
    assert [v.target for v in edge.volumes] == ["/letsencrypt"]
    assert edge.env == {"AWS_REGION": "us-east-1"}
    assert set(edge.config_files) == {DYNAMIC_FILE}
