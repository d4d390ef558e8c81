"""How each container is replaced on the simulated engine: which stop first, and why the rest may start first."""

from __future__ import annotations

import pytest

from ops.sim import engine

CONTAINER = "docker:index/container:Container"


@pytest.mark.parametrize(("name", "grace"), [("prometheus", 60), ("alertmanager", 30), ("grafana", 30)])
def test_services_on_a_single_writer_volume_stop_before_their_replacement_starts(
    containers_staging: engine.Run, name: str, grace: int
) -> None:
    c = containers_staging.one(CONTAINER, name)
    assert c.delete_before_replace is True
    assert c.inputs["name"] == name
    assert (c.inputs["destroyGraceSeconds"], c.inputs["stopTimeout"]) == (grace, grace)
    assert any(not v.get("readOnly") for v in c.inputs["volumes"])


def test_no_create_first_container_mounts_a_writable_volume(containers_staging: engine.Run) -> None:
    create_first = [c for c in containers_staging.of_type(CONTAINER) if c.delete_before_replace is False]
    assert sorted(c.name for c in create_first) == [
        "blackbox-exporter",
        "cadvisor",
        "directus",
        "frontend",
        "postgres-exporter",
        "redis-exporter",
        "socket-proxy",
    ]
    writable = {
        c.name: v["containerPath"] for c in create_first for v in c.inputs.get("volumes") or [] if not v.get("readOnly")
    }
    assert writable == {}


def test_no_docker_resource_with_a_fixed_name_asks_to_be_created_first(containers_staging: engine.Run) -> None:
    # Two objects cannot share a name on one engine: with a fixed name, create-first would
    # collide, so delete_before_replace must be True or left to the provider, never False.
    fixed = [
        r
        for r in containers_staging.resources
        if r.type.startswith("docker:index/")
        and isinstance(r.inputs.get("name"), str)
        and r.custom
        and r.type != "docker:index/remoteImage:RemoteImage"
    ]
    assert {r.type for r in fixed} >= {CONTAINER, "docker:index/network:Network", "docker:index/volume:Volume"}
    assert [r.name for r in fixed if r.delete_before_replace is False] == []
