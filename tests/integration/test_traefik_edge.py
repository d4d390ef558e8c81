"""Staging's Traefik as the public edge, loaded by a real Traefik: the pinned image runs the flags and the
dynamic file the plan delivers (edge: host). On the build machines that image is the rehearsal's stand-in
tagged with the pinned reference, which runs a real Traefik binary of the same minor version.

What this machine allows: Traefik parses the static flags (it exits on an unknown one), loads the file
provider's routers and TLS options, redirects HTTP to HTTPS, and refuses TLS for a name it has no
certificate for (strict SNI). What it does not: Let's Encrypt is never contacted (the resolver's CA is
pointed at a closed loopback port) and no Docker engine is given to Traefik, so the routers' services,
which the Docker provider supplies on the host, are reported missing: that is the one error allowed.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from components.workload.images import UPSTREAM
from components.workload.public_edge import DYNAMIC_FILE
from ops.sim import engine
from tests.conftest import require_tool, shipped

pytestmark = pytest.mark.docker  # run by `make rehearsal`, once the stand-in images are built

IMAGE = ":".join(UPSTREAM["traefik"])
NAMES = ("app.staging.quintas-crm.example", "cms.staging.quintas-crm.example", "grafana.staging.quintas-crm.example")
# Closed port on loopback: the ACME resolver's directory, so a certificate order can never leave the machine.
NO_CA = "https://127.0.0.1:9/directory"


def _docker(*args: str, check: bool = True) -> str:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=120, check=False)
    if check and done.returncode != 0:
        pytest.fail(f"docker {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


@pytest.fixture(scope="module")
def traefik(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[int, int]]:
    """Traefik with staging's flags and dynamic file, its ports published on 127.0.0.1; removed at the end."""
    require_tool("docker", "apt-get install docker.io")
    if _docker("image", "inspect", IMAGE, check=False) == "":
        pytest.fail(f"the pinned image {IMAGE} is not on this engine: `make rehearsal` builds the stand-ins first")
    container = engine.reveal(shipped("staging").one("docker:index/container:Container", "traefik").inputs)
    tree = tmp_path_factory.mktemp("traefik")
    dynamic = tree / DYNAMIC_FILE.lstrip("/")
    dynamic.parent.mkdir(parents=True)
    dynamic.write_text({u["file"]: u["content"] for u in container["uploads"]}[DYNAMIC_FILE])
    name = f"quintas-edge-check-{os.getpid()}"
    flags = [*container["command"], "--api.insecure=true", f"--certificatesresolvers.letsencrypt.acme.caserver={NO_CA}"]
    ports = [arg for port in (80, 443, 8080) for arg in ("-p", f"127.0.0.1::{port}")]
    # Created, given the file as the deploy uploads it (docker cp), then started.
    _docker("create", "--name", name, *ports, IMAGE, *flags)
    try:
        top = DYNAMIC_FILE.lstrip("/").split("/")[0]  # etc: copied into the container's own
        _docker("cp", str(tree / top), f"{name}:/")
        _docker("start", name)
        published = {p: int(_docker("port", name, str(p)).splitlines()[0].rsplit(":", 1)[1]) for p in (80, 443, 8080)}
        _wait_for_api(published[8080], name)
        yield published
    finally:
        _docker("rm", "-f", name, check=False)


def _wait_for_api(port: int, name: str) -> None:
    """Until the API lists the web entrypoint's redirect and the file's three routers: the configuration is live."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            routers = {r["name"] for r in _api(port, "/api/http/routers")}
            if "web-to-websecure@internal" in routers and sum(r.endswith("-public@file") for r in routers) == 3:
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.5)
    pytest.fail(f"Traefik's configuration never went live; its log:\n{_docker('logs', name, check=False)}")


def _get(port: int, path: str, host: str = "127.0.0.1") -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path, headers={"Host": host})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def _api(port: int, path: str) -> Any:
    return json.loads(_get(port, path)[2])


def test_http_only_redirects_every_name_to_https(traefik: dict[int, int]) -> None:
    for name in NAMES:
        status, headers, _ = _get(traefik[80], "/api/health", host=name)
        assert (status, headers.get("Location")) == (301, f"https://{name}/api/health"), headers


def test_websecure_takes_one_certificate_for_every_name_from_the_letsencrypt_resolver(traefik: dict[int, int]) -> None:
    entrypoints = {e["name"]: e for e in _api(traefik[8080], "/api/entrypoints")}
    assert entrypoints["web"]["http"]["redirections"]["entryPoint"] == {
        "to": "websecure",
        "scheme": "https",
        "permanent": True,
        "priority": entrypoints["web"]["http"]["redirections"]["entryPoint"]["priority"],
    }
    tls = entrypoints["websecure"]["http"]["tls"]
    assert tls["certResolver"] == "letsencrypt"
    assert tls["domains"] == [{"main": NAMES[0], "sans": list(NAMES[1:])}]


def test_each_public_name_has_its_router_and_lacks_only_the_docker_service(traefik: dict[int, int]) -> None:
    routers = {r["name"]: r for r in _api(traefik[8080], "/api/http/routers") if r["name"].endswith("-public@file")}
    expected = {"frontend-app": NAMES[0], "directus-cms": NAMES[1], "grafana-app": NAMES[2]}
    assert {name: (r["rule"], r["service"]) for name, r in routers.items()} == {
        f"{service}-public@file": (f"Host(`{host}`)", f"{service}@docker") for service, host in expected.items()
    }
    for router in routers.values():
        # options "default": the file's TLS 1.2+ and strict SNI apply to it.
        assert router["entryPoints"] == ["websecure"]
        assert router["tls"] == {"certResolver": "letsencrypt", "options": "default"}
        assert router["error"] == [f'the service "{router["service"]}" does not exist']


def test_tls_is_refused_for_a_name_without_its_certificate(traefik: dict[int, int]) -> None:
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", traefik[443]), 5) as raw, pytest.raises(ssl.SSLError) as refused:
        context.wrap_socket(raw, server_hostname=NAMES[0])
    # Strict SNI (the file's TLS options): no self-signed default certificate is offered instead.
    assert "UNRECOGNIZED_NAME" in str(refused.value)
