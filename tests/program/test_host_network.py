"""node-exporter in the host's network namespace: the spec rule, the container, the Compose
entry, and how Prometheus reaches it (host.docker.internal, mapped to the host gateway)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from components.config import StackConfig
from components.workload.services import (
    HOST_GATEWAY_NAME,
    HealthCheck,
    Image,
    Metrics,
    Routing,
    ServiceSpec,
    SpecError,
    scrape_targets,
)
from components.workload.spec_checks import validate, validate_catalogue
from ops.local import compose
from ops.sim import engine
from tests.unit.test_services import specs_of

CONTAINER = "docker:index/container:Container"


@pytest.fixture(scope="module")
def staging_config() -> StackConfig:
    return engine.stack_config("staging")


def host_agent(**kw: object) -> ServiceSpec:
    spec = ServiceSpec(
        name="agent",
        image=Image("example/agent", "1.0.0"),
        health=HealthCheck(("wget", "-q", "-O", "/dev/null", "http://127.0.0.1:9100/metrics")),
        memory_mb=32,
        cpus=0.1,
        networks=(),
        host_network=True,
        host_access="reads the host's own network interfaces and their counters",
        replacement="delete-first",
        metrics=Metrics(9100),
    )
    return replace(spec, **kw)  # type: ignore[arg-type]


def test_a_host_network_service_without_networks_and_with_a_reason_is_accepted() -> None:
    assert validate(host_agent()) == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"networks": ("backend",)}, "host_network joins no Docker network"),
        ({"networks": (), "routing": (Routing("app", 9100),)}, "host_network cannot be routed"),
        ({"host_access": ""}, "host_network needs host_access"),
        ({"replacement": "create-first"}, "host_network binds the host's ports"),
    ],
)
def test_a_host_network_service_is_refused_when(change: dict[str, object], message: str) -> None:
    problems = validate(host_agent(**change))
    assert any(message in p for p in problems), problems


def test_a_scraped_host_network_service_needs_a_scraper_that_reaches_the_host() -> None:
    with pytest.raises(SpecError, match="no service resolves host.docker.internal"):
        validate_catalogue([host_agent()])
    validate_catalogue(
        [
            host_agent(),
            host_agent(
                name="scraper", host_network=False, host_gateway=True, networks=("backend",), replacement="create-first"
            ),
        ]
    )


def test_node_exporter_runs_in_the_hosts_network_and_pid_namespaces(staging_config: StackConfig) -> None:
    ne = specs_of(staging_config)["node-exporter"]
    assert (ne.host_network, ne.pid_host, ne.networks, ne.replacement) == (True, True, (), "delete-first")
    assert "--path.rootfs=/rootfs" in ne.command


def test_prometheus_scrapes_node_exporter_through_the_host_gateway(staging_config: StackConfig) -> None:
    specs = specs_of(staging_config)
    targets = {t.job: t.address for t in scrape_targets(specs.values())}
    assert HOST_GATEWAY_NAME == "host.docker.internal"
    assert targets["node-exporter"] == "host.docker.internal:9100"
    assert targets["cadvisor"] == "cadvisor:8080"
    assert [s.name for s in specs.values() if s.host_gateway] == ["prometheus"]


def test_node_exporter_container_uses_the_host_network_and_no_docker_network(containers_staging: engine.Run) -> None:
    ne = containers_staging.one(CONTAINER, "node-exporter")
    assert ne.inputs["networkMode"] == "host" and ne.inputs["pidMode"] == "host"
    assert not ne.inputs.get("networksAdvanced")
    assert ne.delete_before_replace is True


def test_prometheus_container_resolves_the_host_gateway(containers_staging: engine.Run) -> None:
    prometheus = containers_staging.one(CONTAINER, "prometheus")
    assert prometheus.inputs["hosts"] == [{"host": "host.docker.internal", "ip": "host-gateway"}]
    assert "networkMode" not in prometheus.inputs
    frontend = containers_staging.one(CONTAINER, "frontend")
    assert not frontend.inputs.get("hosts")


def test_compose_renders_the_host_network_and_the_host_gateway(staging_config: StackConfig) -> None:
    services = compose.render(staging_config)["services"]
    assert services["node-exporter"]["network_mode"] == "host"
    assert "networks" not in services["node-exporter"]
    assert services["prometheus"]["extra_hosts"] == ["host.docker.internal:host-gateway"]
    assert "extra_hosts" not in services["grafana"] and "network_mode" not in services["prometheus"]
