"""The host's Docker Engine and Traefik (issue 14, items 4 and 5).

The engine is pinned and held in the rendered user data; the Traefik image the stack
runs must fit it (components/engine_versions.py); Traefik trusts forwarded headers
only from the VPC, where the ALB's addresses are.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from components.aws.host import UBUNTU_RELEASE
from components.engine_versions import DOCKER_ENGINE, TRAEFIK_ENGINE_LIMIT, check_fits, engine_of, fits
from components.workload import catalogue_ingress
from components.workload.images import UPSTREAM
from ops.sim import engine

DOCKER_KEY = "9DC858229FC7DD38854AE2D88D81803C0EBFCD88"  # Docker's release signing key
ENGINE_PACKAGES = ("docker-ce", "docker-ce-cli", "containerd.io")


def user_data(run: engine.Run) -> dict[str, Any]:
    return yaml.safe_load(run.one("aws:ec2/instance:Instance", "host").inputs["userData"])


def pinned(config: dict[str, Any]) -> dict[str, str]:
    """package -> version of the `[name, version]` entries of cloud-init's packages."""
    return {p[0]: p[1] for p in config["packages"] if isinstance(p, list)}


def traefik_tag(run: engine.Run) -> str:
    return run.one("docker:index/remoteImage:RemoteImage", "traefik").inputs["name"].rsplit(":", 1)[1]


def test_user_data_installs_docker_engine_at_an_exact_version_from_dockers_repository(stack_run: engine.Run) -> None:
    config = user_data(stack_run)
    versions = pinned(config)
    codename, number = UBUNTU_RELEASE.split("-")
    assert versions["docker-ce"] == versions["docker-ce-cli"] == f"5:{DOCKER_ENGINE}-1~ubuntu.{number}~{codename}"
    unpinned = [
        p for p in config["packages"] if isinstance(p, str) and p in ("docker.io", "docker-ce", "docker-ce-cli")
    ]
    assert unpinned == []
    source = config["apt"]["sources"]["docker.list"]
    assert source["source"].endswith(f"https://download.docker.com/linux/ubuntu {codename} stable")
    assert "signed-by=$KEY_FILE" in source["source"] and source["keyid"] == DOCKER_KEY


def test_the_engine_is_held_against_upgrades_before_docker_starts(stack_run: engine.Run) -> None:
    config = user_data(stack_run)
    runcmd = [" ".join(c) if isinstance(c, list) else c for c in config["runcmd"]]
    hold = runcmd.index("apt-mark hold " + " ".join(ENGINE_PACKAGES))
    assert hold < runcmd.index("systemctl enable --now docker.service")
    files = {f["path"]: f["content"] for f in config["write_files"]}
    blacklist = files["/etc/apt/apt.conf.d/51quintas-docker-pinned"]
    assert blacklist.startswith("Unattended-Upgrade::Package-Blacklist {")
    assert all(f'"{p}";' in blacklist for p in ENGINE_PACKAGES)


def test_the_traefik_the_stack_runs_fits_the_engine_the_host_installs(stack_run: engine.Run) -> None:
    engine_version = engine_of(pinned(user_data(stack_run))["docker-ce"])
    assert engine_version == DOCKER_ENGINE
    assert fits(traefik_tag(stack_run), engine_version)


def test_traefik_before_v3_6_1_does_not_fit_engine_29_or_later() -> None:
    assert fits("v3.3.5", "28.5.2") and not fits("v3.3.5", "29.0.0")
    assert fits("v3.6.1", "29.8.1") and fits("v3.6.1", "28.5.2")
    assert not fits("v3.7.0", "28.5.2")  # not in the table: nobody checked it yet
    assert engine_of("5:29.0.0-1~ubuntu.24.04~noble") == "29.0.0"
    assert all(tag.startswith("v") for tag in TRAEFIK_ENGINE_LIMIT)
    with pytest.raises(ValueError, match=r"Traefik v3\.3\.5 does not fit Docker Engine 29\.0\.0"):
        check_fits("v3.3.5", "29.0.0")


def test_a_traefik_pin_outside_the_table_stops_the_catalogue(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(UPSTREAM, "traefik", ("traefik", "v3.7.0"))
    with pytest.raises(ValueError, match="Traefik v3.7.0 does not fit"):
        catalogue_ingress.traefik("10.40.0.0/16", "staging")


def test_traefik_trusts_forwarded_headers_only_from_the_vpc_on_both_entrypoints(stack_run: engine.Run) -> None:
    vpc = stack_run.of_type("aws:ec2/vpc:Vpc")[0]
    command = stack_run.one("docker:index/container:Container", "traefik").inputs["command"]
    flags = dict(a.split("=", 1) for a in command if a.startswith("--entrypoints."))
    served = {k.split(".")[1] for k in flags if k.endswith(".address")} - {"traefik"}  # :8080 is ping and metrics
    # edge: host adds the public entrypoints, which nothing stands in front of: they trust no forwarded header.
    public = {"web", "websecure"} if not stack_run.of_type("aws:lb/loadBalancer:LoadBalancer") else set()
    assert served == {"app", "cms"} | public
    trusted = {k.split(".")[1]: v for k, v in flags.items() if k.endswith(".forwardedHeaders.trustedIPs")}
    assert trusted == dict.fromkeys(("app", "cms"), vpc.inputs["cidrBlock"])
    assert not any("forwardedHeaders.insecure" in a for a in command)


def test_the_trusted_range_is_the_vpc_setting_not_a_copy() -> None:
    command = catalogue_ingress.traefik("10.99.0.0/16", "staging").command
    assert "--entrypoints.app.forwardedHeaders.trustedIPs=10.99.0.0/16" in command
    assert "--entrypoints.cms.forwardedHeaders.trustedIPs=10.99.0.0/16" in command
