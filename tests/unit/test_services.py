"""ServiceSpec checks and the catalogue's content, with no engine: plain data in, problems out."""

from __future__ import annotations

from dataclasses import replace

import pytest

from components.config import StackConfig
from components.workload import catalogue as cat
from components.workload.catalogue_monitoring import NODE_TEXTFILE_DIR
from components.workload.services import (
    INTERNAL_NETWORKS,
    HealthCheck,
    Image,
    Metrics,
    Port,
    Routing,
    ServiceSpec,
    SpecError,
    Volume,
    labels,
    scrape_targets,
)
from components.workload.spec_checks import validate, validate_catalogue
from ops.sim.engine import stack_config


@pytest.fixture(scope="module")
def staging_config() -> StackConfig:
    return stack_config("staging")


@pytest.fixture(scope="module")
def prod_config() -> StackConfig:
    return stack_config("prod")


def inputs(**kw: object) -> cat.CatalogueInputs:
    base: dict[str, object] = {
        "repositories": {
            i: f"123456789012.dkr.ecr.us-east-1.amazonaws.com/quintas-crm/{i}" for i in cat.PRIVATE_IMAGES
        },
        "uploads_bucket": "quintas-crm-staging-uploads",
        "backups_bucket": "quintas-crm-staging-backups",
        "secrets": {n: f"value-of-{n}" for n in cat.SECRET_NAMES},
    }
    base.update(kw)
    return cat.CatalogueInputs(**base)  # type: ignore[arg-type]


def specs_of(config: StackConfig, **kw: object) -> dict[str, ServiceSpec]:
    return {s.name: s for s in cat.catalogue(config, inputs(**kw))}


def good(**kw: object) -> ServiceSpec:
    spec = ServiceSpec(
        name="api",
        image=Image("example/api", "1.2.3"),
        health=HealthCheck(("wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/health")),
        memory_mb=128,
        cpus=0.5,
        networks=("edge",),
    )
    return replace(spec, **kw)  # type: ignore[arg-type]


# ----------------------------------------------------------------- validation


def test_a_well_formed_spec_has_no_problems() -> None:
    assert validate(good()) == []


def test_settings_named_after_a_secret_are_not_taken_for_one() -> None:
    settings = {"REFRESH_TOKEN_COOKIE_SECURE": "true", "ACCESS_TOKEN_TTL": "15m", "PASSWORD_RESET_URL_ALLOW_LIST": ""}
    assert validate(good(env=settings)) == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"health": None}, "missing health check"),
        ({"env": {"DB_PASSWORD": "hunter2"}}, "secret in env: DB_PASSWORD"),
        ({"env": {"API_TOKEN": "abc"}}, "secret in env: API_TOKEN"),
        ({"env": {"METRICS_TOKENS": "abc"}}, "secret in env: METRICS_TOKENS"),
        ({"env": {"AWS_CREDENTIALS": "abc"}}, "secret in env: AWS_CREDENTIALS"),
        ({"volumes": (Volume("/etc/api", "/etc/api"),)}, "host path /etc/api is outside /srv/data"),
        ({"volumes": (Volume("/var/run/docker.sock", "/var/run/docker.sock"),)}, "must be read_only"),
        ({"privileged": True}, "privileged needs privileged_reason"),
        ({"image": Image("example/api", "latest")}, "pinned version"),
        ({"ports": (Port(9000, 9000),)}, "must use replacement='delete-first'"),
        ({"secret_env": {"DB_PASSWORD_FILE": "db"}}, "names unknown secret 'db'"),
        ({"secrets": {"db": "x"}, "secret_env": {"DB_PASSWORD": "db"}}, "must end in _FILE"),
        ({"networks": ("backend",), "routing": (Routing("app", 8080),)}, "must join the edge network"),
        ({"metrics": Metrics(8080, auth="bearer", credentials="token")}, "needs credentials"),
        ({"config_files": {"/run/secrets/x": "y"}}, "outside /run/secrets"),
        ({"name": "Bad_Name"}, "lower-case DNS label"),
        ({"volumes": (Volume("api-data", "/data"),)}, "create-first but mounts api-data writable"),
        ({"volumes": (Volume("/srv/data/api", "/data"),)}, "create-first but mounts /srv/data/api writable"),
        # Redis had 5 s against a 10 s interval: the rehearsal saw it healthy only after its start period.
        (
            {"health": HealthCheck(("true",), interval="10s", start_period="5s")},
            "start_period 5s is shorter than its interval 10s",
        ),
    ],
)
def test_invalid_spec_is_refused_with_a_clear_problem(change: dict[str, object], message: str) -> None:
    problems = validate(good(**change))
    assert any(message in p for p in problems), problems


def test_catalogue_validation_lists_every_problem_at_once() -> None:
    with pytest.raises(SpecError) as err:
        validate_catalogue([good(health=None), good(name="web", depends_on=("db",)), good(name="web")], 64)
    text = str(err.value)
    assert "api: missing health check" in text
    assert "web: depends_on 'db'" in text
    assert "web: two specs have this name" in text
    assert "memory limits add up to 384 MiB, over the host's budget of 64 MiB" in text


def test_data_paths_and_explained_system_paths_are_accepted() -> None:
    spec = good(
        volumes=(Volume("/srv/data/api", "/data"), Volume("/proc", "/host/proc", read_only=True)),
        host_access="reads host process statistics",
        replacement="delete-first",
    )
    assert validate(spec) == []


def test_a_create_first_service_may_mount_volumes_read_only() -> None:
    assert validate(good(volumes=(Volume("api-data", "/data", read_only=True),))) == []


# ----------------------------------------------------------------- the catalogue


def test_catalogue_lists_the_application_and_monitoring_services(staging_config: StackConfig) -> None:
    assert list(specs_of(staging_config)) == [
        "traefik",
        "socket-proxy",
        "frontend",
        "directus",
        "postgres",
        "redis",
        "backup",
        "prometheus",
        "alertmanager",
        "grafana",
        "node-exporter",
        "cadvisor",
        "postgres-exporter",
        "redis-exporter",
        "blackbox-exporter",
    ]
    assert cat.service_names(staging_config) == list(specs_of(staging_config))


def test_every_image_is_pinned_and_the_own_images_come_from_ecr_with_the_configured_tag(
    staging_config: StackConfig,
) -> None:
    specs = specs_of(staging_config)
    for spec in specs.values():
        assert spec.image.tag and spec.image.tag != "latest", spec.name
        assert spec.health is not None, spec.name
    assert specs["frontend"].image.ref == (
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/quintas-crm/frontend:1.0.0-rc.1"
    )
    assert specs["postgres"].image.ref == (
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/quintas-crm/postgres:16-3.4-barman-2"
    )
    assert specs["postgres"].image.build_context == "services/postgres"
    assert specs["directus"].image.ref == "directus/directus:11.12.0"
    assert specs["traefik"].image.ref == "traefik:v3.6.1"
    assert specs["redis"].image.ref == "redis:7.4.2-alpine"


def test_traefik_routes_only_labelled_containers_on_3000_and_8055_with_metrics_and_json_access_log(
    staging_config: StackConfig,
) -> None:
    traefik = specs_of(staging_config)["traefik"]
    assert traefik.image.tag.startswith("v3.")
    for flag in (
        "--providers.docker.exposedByDefault=false",
        "--entrypoints.app.address=:3000",
        "--entrypoints.cms.address=:8055",
        "--metrics.prometheus=true",
        "--accesslog=true",
        "--accesslog.format=json",
    ):
        assert flag in traefik.command
    public = [(80, 80), (443, 443)] if staging_config.edge == "host" else []  # Traefik is the edge: no ALB
    assert [(p.host, p.container) for p in traefik.ports] == [(3000, 3000), (8055, 8055), *public]


def test_traefik_reads_docker_only_through_the_socket_proxy_on_the_internal_docker_api_network(
    staging_config: StackConfig,
) -> None:
    specs = specs_of(staging_config)
    traefik, proxy = specs["traefik"], specs["socket-proxy"]
    acme = (Volume("traefik-acme", "/letsencrypt"),) if staging_config.edge == "host" else ()  # its certificate
    assert traefik.volumes == acme  # and no Docker socket
    assert "--providers.docker.endpoint=tcp://socket-proxy:2375" in traefik.command
    assert "--providers.docker.constraints=Label(`quintas.stack`,`staging`)" in traefik.command
    assert "docker-api" in traefik.networks and traefik.depends_on == ("socket-proxy",)
    assert proxy.networks == ("docker-api",) and "docker-api" in INTERNAL_NETWORKS
    assert proxy.volumes == (Volume("/var/run/docker.sock", "/var/run/docker.sock", read_only=True),)
    assert proxy.image.ref == "tecnativa/docker-socket-proxy:v0.4.2"
    assert {k: proxy.env[k] for k in ("CONTAINERS", "NETWORKS", "EVENTS", "VERSION", "POST")} == {
        "CONTAINERS": "1",
        "NETWORKS": "1",
        "EVENTS": "1",
        "VERSION": "1",
        "POST": "0",
    }
    assert proxy.command == ("haproxy", "-f", "/usr/local/etc/haproxy/docker-api.cfg")
    config = str(proxy.config_files["/usr/local/etc/haproxy/docker-api.cfg"])
    assert "http-request deny unless METH_GET" in config
    assert "/archive" not in config.split("frontend", 1)[1]
    others = [s.name for s in specs.values() if any("docker.sock" in v.source for v in s.volumes)]
    assert others == ["socket-proxy"]


def test_directus_behind_the_alb_has_secure_cookies_cors_for_the_app_and_trusts_only_private_proxies(
    staging_config: StackConfig,
) -> None:
    env = specs_of(staging_config)["directus"].env
    assert env["PUBLIC_URL"] == f"https://{staging_config.cms_host}"
    assert env["SESSION_COOKIE_SECURE"] == env["REFRESH_TOKEN_COOKIE_SECURE"] == "true"
    assert env["SESSION_COOKIE_SAME_SITE"] == env["REFRESH_TOKEN_COOKIE_SAME_SITE"] == "strict"
    assert (env["CORS_ENABLED"], env["CORS_ORIGIN"]) == ("true", f"https://{staging_config.app_host}")
    assert env["IP_TRUST_PROXY"] == "loopback,uniquelocal"


def test_directus_uses_postgres_redis_cache_s3_uploads_and_secret_files(staging_config: StackConfig) -> None:
    d = specs_of(staging_config)["directus"]
    env = d.environment()
    assert env["CACHE_ENABLED"] == "true" and env["CACHE_STORE"] == "redis"
    assert env["REDIS"] == "redis://redis:6379"
    assert (env["DB_CLIENT"], env["DB_HOST"]) == ("pg", "postgres")
    assert (env["STORAGE_LOCATIONS"], env["STORAGE_S3_DRIVER"]) == ("s3", "s3")
    assert env["STORAGE_S3_BUCKET"] == "quintas-crm-staging-uploads"
    # The instance role supplies credentials: no key or secret anywhere.
    assert not any(k.startswith(("STORAGE_S3_KEY", "STORAGE_S3_SECRET")) for k in env)
    assert env["SECRET_FILE"] == "/run/secrets/directus_secret"
    assert (env["DB_USER"], env["DB_PASSWORD_FILE"]) == ("directus", "/run/secrets/directus_db_password")
    assert env["ADMIN_PASSWORD_FILE"] == "/run/secrets/directus_admin_password"
    assert env["METRICS_ENABLED"] == "true"
    assert env["METRICS_TOKENS_FILE"] == "/run/secrets/metrics_token"
    assert d.metrics == Metrics(port=8055, auth="metrics", credentials="metrics_token")
    assert d.health is not None and d.health.test[-1] == "http://127.0.0.1:8055/server/ping"
    # Create-first: no writable volume (the old and new container would share it), and
    # extensions are baked into the image, where a volume over the path would hide them.
    assert d.volumes == () and d.replacement == "create-first"
    assert d.routing == (Routing("cms", 8055),)


def test_frontend_health_path_and_route(staging_config: StackConfig) -> None:
    f = specs_of(staging_config)["frontend"]
    assert f.health is not None and "http://127.0.0.1:3000/api/health" in " ".join(f.health.test)
    assert f.routing == (Routing("app", 3000),)
    assert labels(f, "staging")["traefik.http.routers.frontend-app.rule"] == "PathPrefix(`/`)"


def test_grafana_is_routed_at_the_configured_host(staging_config: StackConfig) -> None:
    g = specs_of(staging_config)["grafana"]
    lab = labels(g, "staging")
    assert lab["traefik.http.routers.grafana-app.rule"] == "Host(`grafana.staging.quintas-crm.example`)"
    assert lab["traefik.http.services.grafana-app.loadbalancer.server.port"] == "3000"
    assert int(str(lab["traefik.http.routers.grafana-app.priority"])) > 1  # wins over the frontend catch-all
    assert g.environment()["GF_SECURITY_ADMIN_PASSWORD__FILE"] == "/run/secrets/grafana_admin_password"


def test_postgres_keeps_data_under_srv_data_with_a_password_file(staging_config: StackConfig) -> None:
    pg = specs_of(staging_config)["postgres"]
    assert Volume("/srv/data/postgres", "/var/lib/postgresql/data") in pg.volumes
    assert pg.environment()["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres_password"
    assert "POSTGRES_PASSWORD" not in pg.environment()
    assert pg.command[:1] == ("postgres",)
    assert "shared_buffers=224MB" in pg.command  # a quarter of its 896 MiB on a 4 GiB host


def test_backups_settings_reach_the_postgres_command(staging_config: StackConfig) -> None:
    extra = {"archive_mode": "on", "archive_timeout": "60", "wal_level": "logical"}
    pg = specs_of(staging_config, postgres_settings=extra)["postgres"]
    args = list(pg.command)
    assert ["-c", "archive_mode=on"] == args[args.index("archive_mode=on") - 1 : args.index("archive_mode=on") + 1]
    assert "wal_level=logical" in args and "wal_level=replica" not in args  # the extra setting wins


def test_redis_is_a_bounded_cache_without_host_port(staging_config: StackConfig) -> None:
    r = specs_of(staging_config)["redis"]
    assert r.image.repository == "redis" and r.image.tag.startswith("7.") and r.image.tag.endswith("-alpine")
    cmd = list(r.command)
    assert cmd[cmd.index("--maxmemory") + 1] == "144mb"
    assert cmd[cmd.index("--maxmemory-policy") + 1] == "allkeys-lru"
    assert r.ports == ()
    assert r.networks == ("backend",)


def test_only_cadvisor_is_privileged_and_says_why(staging_config: StackConfig) -> None:
    specs = specs_of(staging_config)
    assert [s.name for s in specs.values() if s.privileged] == ["cadvisor"]
    assert "cgroup" in specs["cadvisor"].privileged_reason


def test_node_exporter_reads_the_backup_jobs_textfile_directory(staging_config: StackConfig) -> None:
    ne = specs_of(staging_config)["node-exporter"]
    assert Volume(NODE_TEXTFILE_DIR, "/textfile", read_only=True) in ne.volumes
    assert "--collector.textfile.directory=/textfile" in ne.command
    assert NODE_TEXTFILE_DIR == "/srv/data/node-exporter-textfile"


def test_memory_limits_fit_the_host_and_grow_with_it(staging_config: StackConfig, prod_config: StackConfig) -> None:
    small = sum(s.memory_mb for s in specs_of(staging_config).values())
    large = sum(s.memory_mb for s in specs_of(prod_config).values())
    assert small <= cat.memory_budget_mb(staging_config) == 4 * 1024 - 512
    assert small < large <= cat.memory_budget_mb(prod_config)
    with pytest.raises(SpecError, match="over the host's budget"):
        cat.catalogue(staging_config, inputs(), extra=[good(memory_mb=2048)])


def test_every_metrics_field_becomes_a_scrape_target(staging_config: StackConfig) -> None:
    targets = {t.job: t for t in scrape_targets(specs_of(staging_config).values())}
    assert set(targets) == {
        "traefik",
        "directus",
        "prometheus",
        "alertmanager",
        "grafana",
        "node-exporter",
        "cadvisor",
        "postgres-exporter",
        "redis-exporter",
        "blackbox-exporter",
    }
    assert targets["directus"].address == "directus:8055"
    assert (targets["directus"].auth, targets["directus"].token_file) == ("metrics", "/run/secrets/metrics_token")
    assert targets["traefik"].address == "traefik:8080"


def test_config_files_change_the_digest_label(staging_config: StackConfig) -> None:
    one = specs_of(staging_config, config_files={"prometheus": {"/etc/prometheus/prometheus.yml": "a: 1\n"}})
    two = specs_of(staging_config, config_files={"prometheus": {"/etc/prometheus/prometheus.yml": "a: 2\n"}})
    d1 = labels(one["prometheus"], "staging")["quintas.config-digest"]
    d2 = labels(two["prometheus"], "staging")["quintas.config-digest"]
    assert d1 != d2 and len(str(d1)) == 16


def test_postgres_image_is_postgis_16_with_the_barman_version_the_tests_use() -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    dockerfile = (root / "services/postgres/Dockerfile").read_text().splitlines()
    assert [line for line in dockerfile if line.startswith("FROM ")] == ["FROM postgis/postgis:16-3.4"]
    pinned = next(
        line for line in (root / "requirements-dev.txt").read_text().splitlines() if line.startswith("barman")
    )
    version = pinned.split("==")[1]
    assert f"ARG BARMAN_VERSION={version}" in dockerfile
    assert any('"barman[cloud]==${BARMAN_VERSION}"' in line for line in dockerfile)
    assert any("barman-cloud-wal-archive --version" in line for line in dockerfile)


def test_postgres_exporter_logs_in_to_the_stack_database_as_the_monitoring_role(staging_config: StackConfig) -> None:
    specs = specs_of(staging_config)
    server = specs["postgres"].env
    exporter = specs["postgres-exporter"]
    assert exporter.env["DATA_SOURCE_URI"] == "postgres:5432/quintas_crm?sslmode=disable"
    assert exporter.env["DATA_SOURCE_URI"] == f"postgres:5432/{server['POSTGRES_DB']}?sslmode=disable"
    assert exporter.env["DATA_SOURCE_USER"] == server["EXPORTER_DB_USER"] == "postgres_exporter"
    assert exporter.secret_env == {"DATA_SOURCE_PASS_FILE": "exporter_db_password"}


def test_each_database_client_logs_in_as_a_role_the_postgres_container_creates(staging_config: StackConfig) -> None:
    specs = specs_of(staging_config)
    server = specs["postgres"]
    assert server.env["POSTGRES_USER"] == "postgres"
    clients = {
        "directus": (specs["directus"].env["DB_USER"], specs["directus"].secret_env["DB_PASSWORD_FILE"]),
        "exporter": (specs["postgres-exporter"].env["DATA_SOURCE_USER"], "exporter_db_password"),
        "backup": (specs["backup"].env["PGUSER"], specs["backup"].secret_env["PGPASSWORD_FILE"]),
    }
    made = {
        (server.env[f"{prefix}_DB_USER"], server.secret_env[f"{prefix}_DB_PASSWORD_FILE"])
        for prefix in ("DIRECTUS", "EXPORTER", "BACKUP")
    }
    assert set(clients.values()) == made
    assert server.env["POSTGRES_USER"] not in {user for user, _ in clients.values()}
    # Only the server holds the superuser's password; its role script reads the others as uid 999.
    assert [s.name for s in specs.values() if "postgres_password" in s.secrets] == ["postgres"]
    assert server.file_owner == "999"
    script = str(server.config_files["/docker-entrypoint-initdb.d/20-quintas-roles.sh"])
    for grant in ("GRANT pg_monitor", "pg_backup_start(text, boolean)", "pg_read_all_data", "OWNER TO"):
        assert grant in script
    # Function grants hold per database: barman-cloud-backup connects to `postgres` (the rehearsal's
    # backup-job check failed with "permission denied for function pg_backup_start" without this).
    assert script.index("\\connect postgres") < script.index("pg_backup_start(text, boolean)")
    assert 'GRANT pg_checkpoint, pg_monitor, pg_read_all_data TO :"backup";' in script  # pg_ls_archive_statusdir()
