"""The whole program: the container stack wired to the real platform outputs in __main__.py."""

from __future__ import annotations

from components.workload.catalogue import service_names
from ops.sim import engine
from tests.program.test_containers import leaks


def test_no_generated_secret_appears_unmarked_in_the_whole_program(stack_run: engine.Run) -> None:
    assert len(stack_run.of_type("random:index/randomPassword:RandomPassword")) == 8
    assert leaks(stack_run) == []


def test_containers_log_to_the_platforms_log_groups(stack_run: engine.Run) -> None:
    groups = {g.name: g.inputs["name"] for g in stack_run.of_type("aws:cloudwatch/logGroup:LogGroup")}
    containers = stack_run.of_type("docker:index/container:Container")
    assert len(containers) == 15
    for c in containers:
        assert c.inputs["logOpts"]["awslogs-group"] == groups[c.name] == f"/quintas-crm/{stack_run.stack}/{c.name}"
    assert set(groups) >= set(c.name for c in containers)


def test_containers_wait_for_the_platforms_host_and_use_its_buckets(stack_run: engine.Run) -> None:
    ready = stack_run.one("command:local:Command", "host-ready")
    instance = next(r for r in stack_run.of_type("aws:ec2/instance:Instance"))
    # depends_on a component waits for all of its children: the instance, its EIP, the data volume.
    for waited in (instance, *stack_run.of_type("aws:ec2/eip:Eip"), *stack_run.of_type("aws:ebs/volume:Volume")):
        assert waited.urn in ready.depends_on, waited.name
    assert f"ubuntu@{instance.id}" in ready.inputs["create"]
    assert "test -f /var/lib/quintas-crm/host-ready" in ready.inputs["create"]
    uploads = next(b for b in stack_run.of_type("aws:s3/bucket:Bucket") if b.name == "uploads")
    env = dict(e.split("=", 1) for e in stack_run.one("docker:index/container:Container", "directus").inputs["envs"])
    assert env["STORAGE_S3_BUCKET"] == uploads.outputs["bucket"]
    assert sorted(stack_run.outputs["imageRepositories"]) == ["directus", "frontend", "postgres"]
    assert sorted(c.name for c in stack_run.of_type("docker:index/container:Container")) == sorted(
        service_names_of(stack_run)
    )


def service_names_of(run: engine.Run) -> list[str]:
    from ops.sim.engine import stack_config

    return service_names(stack_config(run.stack))


def test_ops_plan_shows_every_container_of_the_real_program(staging: engine.Run) -> None:
    import io

    from ops.cli.plan_text import render_tree

    out = io.StringIO()
    render_tree(staging, out, full=True)
    blocks = out.getvalue().split("+ docker:index/container:Container  ")[1:]
    assert len(blocks) == 15
    for block in blocks:
        body = block.split("\n  + ")[0]
        network = "networkMode:" if block.split()[0] == "node-exporter" else "networksAdvanced:"  # the host's
        for key in ("image:", network, "healthcheck:", "labels:"):
            assert key in body, (block.split()[0], key)
    assert any("traefik.http.routers.directus-cms.entrypoints" in b for b in blocks)
