"""ContainerStack on the simulated engine: provider over SSH/SSM, networks, containers, updates, secrets."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.workload.services import HealthCheck, Image, Metrics, Routing, ServiceSpec
from ops.sim import engine
from tests.conftest import simulate
from tests.helpers.stand_in import containers_program

CONTAINER = "docker:index/container:Container"
IMAGE = "docker:index/remoteImage:RemoteImage"
SECRET_NAMES = (
    "postgres-password",
    "directus-db-password",
    "exporter-db-password",
    "backup-db-password",
    "directus-secret",
    "directus-admin-password",
    "grafana-admin-password",
    "metrics-token",
)


def container(run: engine.Run, name: str) -> engine.Resource:
    return run.one(CONTAINER, name)


def env_of(res: engine.Resource) -> dict[str, str]:
    return dict(e.split("=", 1) for e in res.inputs["envs"])


def labels_of(res: engine.Resource) -> dict[str, str]:
    return {x["label"]: x["value"] for x in res.inputs["labels"]}


def uploads_of(res: engine.Resource) -> list[dict[str, Any]]:
    return engine.reveal(res.inputs.get("uploads", []))


def test_ecr_repositories_scan_on_push_and_keep_the_last_20_tags(containers_prod: engine.Run) -> None:
    repos = {r.name: r for r in containers_prod.of_type("aws:ecr/repository:Repository")}
    assert sorted(r.inputs["name"] for r in repos.values()) == [
        "quintas-crm/prod/directus",
        "quintas-crm/prod/frontend",
        "quintas-crm/prod/postgres",
    ]
    for repo in repos.values():
        assert repo.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
        assert repo.inputs["imageTagMutability"] == "IMMUTABLE"
    for policy in containers_prod.of_type("aws:ecr/lifecyclePolicy:LifecyclePolicy"):
        rules = json.loads(policy.inputs["policy"])["rules"]
        keep = next(r for r in rules if r["selection"]["tagStatus"] == "tagged")
        assert keep["selection"]["countType"] == "imageCountMoreThan"
        assert keep["selection"]["countNumber"] == 20
    assert len(containers_prod.of_type("aws:ecr/lifecyclePolicy:LifecyclePolicy")) == 3


# ----------------------------------------------------------------- networks, volumes, containers


def test_edge_and_internal_backend_networks(containers_staging: engine.Run) -> None:
    nets = {n.name: n.inputs for n in containers_staging.of_type("docker:index/network:Network")}
    assert nets["edge"]["name"] == "edge" and not nets["edge"].get("internal")
    assert nets["backend"]["internal"] is True
    pg_nets = [n["name"] for n in container(containers_staging, "postgres").inputs["networksAdvanced"]]
    assert pg_nets == ["backend", "egress"]  # egress: barman-cloud to S3 only
    on_egress = [
        c.name
        for c in containers_staging.of_type(CONTAINER)
        if any(n["name"] == "egress" for n in c.inputs.get("networksAdvanced") or [])  # none on the host network
    ]
    assert sorted(on_egress) == ["backup", "postgres"]  # the backup job writes base backups and dumps to S3
    assert [n["name"] for n in container(containers_staging, "redis").inputs["networksAdvanced"]] == ["backend"]
    assert [n["name"] for n in container(containers_staging, "frontend").inputs["networksAdvanced"]] == ["edge"]


def test_named_volumes_are_created(containers_staging: engine.Run) -> None:
    vols = sorted(v.inputs["name"] for v in containers_staging.of_type("docker:index/volume:Volume"))
    # traefik-acme: Traefik's Let's Encrypt account and certificate (staging's edge: host), kept across restarts.
    assert vols == ["alertmanager-data", "grafana-data", "prometheus-data", "traefik-acme"]


def test_one_image_and_one_healthy_bounded_container_per_spec(containers_staging: engine.Run) -> None:
    run = containers_staging
    names = sorted(c.name for c in run.of_type(CONTAINER))
    assert names == sorted(i.name for i in run.of_type(IMAGE))
    assert len(names) == 15
    for c in run.of_type(CONTAINER):
        image = run.one(IMAGE, c.name)
        assert c.inputs["image"] == image.outputs["imageId"]
        assert c.inputs["healthcheck"]["tests"][0] == "CMD"
        assert c.inputs["restart"] == "unless-stopped"
        assert c.inputs["memory"] > 0
        assert c.inputs["wait"] is True and c.inputs["mustRun"] is True
        assert c.inputs["logDriver"] == "awslogs"
        assert c.inputs["logOpts"]["awslogs-group"] == f"/quintas-crm/staging/{c.name}"
        assert c.inputs["logOpts"]["awslogs-region"] == "us-east-1"
    assert run.one(IMAGE, "frontend").inputs["name"].endswith("/quintas-crm/staging/frontend:1.0.0-rc.1")
    assert run.one(IMAGE, "frontend").inputs["platform"] == "linux/amd64"


def test_only_traefik_publishes_host_ports(containers_staging: engine.Run) -> None:
    published = {c.name: c.inputs["ports"] for c in containers_staging.of_type(CONTAINER) if c.inputs.get("ports")}
    entrypoints = (3000, 8055, 80, 443)  # 80 and 443: staging's edge: host, Traefik in the ALB's place
    assert published == {"traefik": [{"internal": p, "external": p} for p in entrypoints]}


def test_directus_and_frontend_are_routed_through_traefik(containers_staging: engine.Run) -> None:
    directus = labels_of(container(containers_staging, "directus"))
    assert directus["traefik.enable"] == "true"
    assert directus["traefik.http.routers.directus-cms.entrypoints"] == "cms"
    assert directus["traefik.http.services.directus-cms.loadbalancer.server.port"] == "8055"
    frontend = labels_of(container(containers_staging, "frontend"))
    assert frontend["traefik.http.routers.frontend-app.entrypoints"] == "app"
    assert "traefik.enable" not in labels_of(container(containers_staging, "postgres"))


# ----------------------------------------------------------------- zero-downtime updates


@pytest.mark.parametrize("name", ["frontend", "directus"])
def test_app_services_are_replaced_create_before_delete(containers_staging: engine.Run, name: str) -> None:
    c = container(containers_staging, name)
    assert c.delete_before_replace is False
    assert "name" not in c.inputs or c.inputs["name"] != name  # auto-named: old and new can coexist
    assert c.outputs["name"].startswith(f"{name}-")
    assert c.inputs["wait"] is True and c.inputs["waitTimeout"] >= 60  # removed only once the new one is healthy


@pytest.mark.parametrize(("name", "grace"), [("postgres", 120), ("redis", 30)])
def test_stateful_services_stop_first_with_a_clean_shutdown(
    containers_staging: engine.Run, name: str, grace: int
) -> None:
    c = container(containers_staging, name)
    assert c.delete_before_replace is True
    assert c.inputs["name"] == name
    assert c.inputs["destroyGraceSeconds"] == grace
    assert c.inputs["stopTimeout"] == grace


def test_postgres_stops_with_a_fast_shutdown_signal(containers_staging: engine.Run) -> None:
    assert container(containers_staging, "postgres").inputs["stopSignal"] == "SIGINT"


def test_containers_start_after_what_they_depend_on(containers_staging: engine.Run) -> None:
    run = containers_staging
    directus = container(run, "directus")
    assert container(run, "postgres").urn in directus.depends_on
    assert container(run, "redis").urn in directus.depends_on
    assert directus.urn in container(run, "frontend").depends_on


# ----------------------------------------------------------------- secrets as files


def test_secrets_arrive_as_files_and_env_names_them(containers_staging: engine.Run) -> None:
    run = containers_staging
    passwords = {
        p.name: engine.reveal(p.outputs["result"]) for p in run.of_type("random:index/randomPassword:RandomPassword")
    }
    assert sorted(passwords) == sorted(SECRET_NAMES)
    directus = container(run, "directus")
    assert isinstance(directus.inputs["uploads"], engine.Secret)
    files = {u["file"]: u for u in uploads_of(directus)}
    assert files["/run/secrets/directus_db_password"]["content"] == passwords["directus-db-password"]
    assert "/run/secrets/postgres_password" not in files
    assert files["/run/secrets/directus_secret"]["content"] == passwords["directus-secret"]
    assert files["/run/secrets/directus_admin_password"]["permissions"] == "0400"
    assert files["/run/secrets/directus_admin_password"]["owner"] == "1000"
    env = env_of(directus)
    assert env["DB_PASSWORD_FILE"] == "/run/secrets/directus_db_password"
    pg_files = {u["file"]: u["content"] for u in uploads_of(container(run, "postgres")) if "/secrets/" in u["file"]}
    assert pg_files == {
        f"/run/secrets/{name}": passwords[name.replace("_", "-")]
        for name in ("postgres_password", "directus_db_password", "exporter_db_password", "backup_db_password")
    }


def leaks(run: engine.Run) -> list[str]:
    """Where a generated secret value appears unmarked: in plain inputs, plain outputs or stack outputs."""
    values = [
        str(engine.reveal(p.outputs["result"])) for p in run.of_type("random:index/randomPassword:RandomPassword")
    ]
    found: list[str] = []
    for res in run.resources:
        for where, data in (("inputs", res.inputs), ("outputs", res.outputs)):
            for text in engine.plain_strings(data):
                found += [f"{res.type} {res.name} {where}" for v in values if v in text]
    for text in engine.plain_strings(run.outputs):
        found += ["stack outputs" for v in values if v in text]
    return found


def test_no_generated_secret_appears_unmarked_anywhere(containers_staging: engine.Run) -> None:
    assert len(containers_staging.of_type("random:index/randomPassword:RandomPassword")) == 8
    assert leaks(containers_staging) == []


def test_the_leak_search_finds_an_unmarked_secret() -> None:
    import pulumi
    import pulumi_random as random

    def leaky() -> None:
        password = random.RandomPassword("leaked", length=24, special=False)
        pulumi.export("oops", pulumi.Output.unsecret(password.result))

    assert leaks(simulate("staging", leaky)) == ["stack outputs"]


def test_a_secret_output_in_env_fails_the_deployment() -> None:
    import pulumi

    def program() -> None:
        # The Output must be made inside the run: each run has its own event loop.
        bad = ServiceSpec(
            name="leaky",
            image=Image("example/leaky", "1.0.0"),
            env={"DATABASE_URL": pulumi.Output.secret("postgres://u:p@postgres/db")},
            health=HealthCheck(("true",)),
            memory_mb=32,
            cpus=0.1,
        )
        containers_program(extra=[bad])()

    with pytest.raises(Exception, match="env DATABASE_URL holds a secret"):
        simulate("staging", program)


# ----------------------------------------------------------------- extension points


def test_adding_a_service_takes_one_spec_and_gets_a_container_and_a_route() -> None:
    status = ServiceSpec(
        name="status",
        image=Image("louislam/uptime-kuma", "1.23.16"),
        health=HealthCheck(("wget", "-q", "-O", "/dev/null", "http://127.0.0.1:3001/")),
        memory_mb=64,
        cpus=0.1,
        networks=("edge",),
        routing=(Routing("app", 3001, host="status.staging.quintas-crm.example"),),
        metrics=Metrics(port=3001),
    )
    run = simulate("staging", containers_program(extra=[status]))
    c = container(run, "status")
    assert run.one(IMAGE, "status").inputs["name"] == "louislam/uptime-kuma:1.23.16"
    lab = labels_of(c)
    assert lab["traefik.http.routers.status-app.rule"] == "Host(`status.staging.quintas-crm.example`)"
    assert lab["traefik.http.services.status-app.loadbalancer.server.port"] == "3001"
    assert c.inputs["logOpts"]["awslogs-group"] == "/quintas-crm/staging/status"
    assert len(run.of_type(CONTAINER)) == 16


def test_config_files_are_uploaded_and_their_digest_is_a_label() -> None:
    files = {"prometheus": {"/etc/prometheus/prometheus.yml": "global:\n  scrape_interval: 30s\n"}}
    run = simulate("staging", containers_program(config_files=files))
    prom = container(run, "prometheus")
    uploaded = {u["file"]: u for u in uploads_of(prom)}
    assert uploaded["/etc/prometheus/prometheus.yml"]["content"] == "global:\n  scrape_interval: 30s\n"
    changed = simulate(
        "staging", containers_program(config_files={"prometheus": {"/etc/prometheus/prometheus.yml": "global: {}\n"}})
    )
    digest = labels_of(prom)["quintas.config-digest"]
    assert digest != labels_of(container(changed, "prometheus"))["quintas.config-digest"]


# ----------------------------------------------------------------- ops plan


def test_plan_shows_every_container_with_image_networks_health_check_and_routing(
    containers_staging: engine.Run,
) -> None:
    import io

    from ops.cli.plan_text import render_tree

    out = io.StringIO()
    render_tree(containers_staging, out, full=True)
    text = out.getvalue()
    blocks = text.split("+ docker:index/container:Container  ")[1:]
    assert len(blocks) == 15
    shown = {b.split()[0]: b.split("\n+ ")[0] for b in blocks}
    for name, block in shown.items():
        network = "networkMode:" if name == "node-exporter" else "networksAdvanced:"  # the host's network
        for key in ("image:", network, "healthcheck:", "labels:", "memory:", "restart:"):
            assert key in block, (name, key)
        assert f'{{"label": "quintas.service", "value": "{name}"}}' in block
    assert "quintas-crm/staging/frontend:1.0.0-rc.1" in shown["frontend"]
    assert "PathPrefix(`/`)" in shown["frontend"] and '"name": "edge"' in shown["frontend"]
    assert "/server/ping" in shown["directus"]
    assert 'name: "backend"\n      internal: true' in text
    for password in containers_staging.of_type("random:index/randomPassword:RandomPassword"):
        assert engine.reveal(password.outputs["result"]) not in text
