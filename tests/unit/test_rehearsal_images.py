"""The rehearsal's stand-in images, checked without Docker: what the builder plans and the Dockerfiles.

The references come from the stack's code (change a pin and the plan follows), every
reference the render uses has a stand-in or a stated reason for none, and every
stand-in Dockerfile builds FROM a rehearsal base and declares what the upstream image does.
"""

from __future__ import annotations

import re
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from components.workload.images import UPSTREAM
from ops.local.compose import render
from ops.sim.engine import stack_config
from rehearsal import image_plan, images
from rehearsal.image_plan import IMAGES_DIR, ROOT, ImageError, Planned, plan, repository
from rehearsal.stand_ins import NOT_REHEARSED, STAND_INS

STANDS = sorted({entry.directory for entry in STAND_INS.values()})


def staging_plan() -> tuple[list[Planned], dict[str, str]]:
    return image_plan.stack_plan("staging")


@pytest.fixture(scope="module")
def staging() -> tuple[list[Planned], dict[str, str]]:
    return staging_plan()


def test_repository_strips_the_tag_only() -> None:
    assert repository("redis:7.4.2-alpine") == "redis"
    assert repository("quay.io/prometheuscommunity/postgres-exporter:v0.17.1") == (
        "quay.io/prometheuscommunity/postgres-exporter"
    )
    assert repository("localhost:5000/app") == "localhost:5000/app"
    assert repository("app@sha256:abc") == "app"


def test_every_rendered_image_is_built_or_listed_as_not_rehearsed(
    staging: tuple[list[Planned], dict[str, str]],
) -> None:
    builds, skipped = staging
    document = render(stack_config("staging"))
    rendered = {service["image"] for service in document["services"].values()}
    assert rendered <= {p.ref for p in builds} | set(skipped)
    assert {repository(ref) for ref in skipped} <= set(NOT_REHEARSED)


def test_references_are_the_catalogues_pins(staging: tuple[list[Planned], dict[str, str]]) -> None:
    refs = {p.ref for p in staging[0]}
    for name in ("directus", "redis"):
        repo, tag = UPSTREAM[name]
        assert f"{repo}:{tag}" in refs
    for name in ("prometheus", "alertmanager", "node-exporter", "blackbox-exporter", "postgres-exporter"):
        repo, tag = UPSTREAM[name]
        assert f"{repo}:{tag}" in refs
    assert "quintas-crm/postgres:16-3.4-barman-2" in refs  # Pulumi.staging.yaml imageTags.postgres
    assert "quintas-crm/frontend:1.0.0-rc.1" in refs  # Pulumi.staging.yaml imageTags.frontend


def test_a_changed_pin_changes_the_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(UPSTREAM, "redis", ("redis", "7.4.3-alpine"))
    monkeypatch.setitem(UPSTREAM, "alertmanager", ("prom/alertmanager", "v0.28.2"))
    refs = {p.ref for p in staging_plan()[0]}
    assert {"redis:7.4.3-alpine", "prom/alertmanager:v0.28.2"} <= refs
    assert not {"redis:7.4.2-alpine", "prom/alertmanager:v0.28.1"} & refs


def test_the_postgis_base_comes_from_the_real_postgres_dockerfile(
    staging: tuple[list[Planned], dict[str, str]],
) -> None:
    builds = staging[0]
    base = image_plan.dockerfile_froms(image_plan.POSTGRES_DOCKERFILE)[0]
    order = [p.ref for p in builds]
    project = next(p for p in builds if p.ref.startswith("quintas-crm/postgres:"))
    assert project.context == image_plan.POSTGRES_DOCKERFILE.parent
    assert order.index(base) < order.index(project.ref)  # the stand-in it builds FROM comes first


def test_moto_follows_the_test_pin(staging: tuple[list[Planned], dict[str, str]]) -> None:
    version = image_plan.pinned_version(image_plan.REQUIREMENTS_DEV, "moto")
    moto = next(p for p in staging[0] if repository(p.ref) == "motoserver/moto")
    assert moto.ref == f"motoserver/moto:{version}"
    assert ("VERSION", version) in moto.build_args


def test_an_unknown_image_fails_with_its_name() -> None:
    document = {"services": {"x": {"image": "example/unknown:1"}}}
    with pytest.raises(ImageError, match="example/unknown:1"):
        plan(document, "postgis/postgis:16-3.4", "5.2.5")


@pytest.mark.parametrize("directory", STANDS)
def test_every_stand_in_has_a_dockerfile_on_a_rehearsal_base(directory: str) -> None:
    dockerfile = IMAGES_DIR / directory / "Dockerfile"
    froms = image_plan.dockerfile_froms(dockerfile)
    assert froms and all(f.startswith(images.BASE_REPOSITORY + ":") for f in froms)
    text = dockerfile.read_text()
    assert re.search(r'^LABEL org.opencontainers.image.version="[^"]+"', text, re.MULTILINE), "its version"
    assert "apt-get install -y --no-install-recommends" in text
    assert text.count("apt-get update") == text.count("rm -rf /var/lib/apt/lists/*") == len(froms), (
        "one apt layer per stage, lists removed"
    )


@pytest.mark.parametrize("directory", STANDS)
def test_entrypoint_scripts_are_executable(directory: str) -> None:
    for script in (IMAGES_DIR / directory).glob("*.sh"):
        assert script.stat().st_mode & 0o111, script


def _instruction(directory: str, keyword: str) -> list[str]:
    text = (IMAGES_DIR / directory / "Dockerfile").read_text()
    return re.findall(rf"^{keyword}\s+(.+)$", text, re.MULTILINE)


@pytest.mark.parametrize(
    ("directory", "entrypoint", "user"),
    [
        ("prometheus", '["/bin/prometheus"]', "nobody"),
        ("alertmanager", '["/bin/alertmanager"]', "nobody"),
        ("node-exporter", '["/bin/node_exporter"]', "nobody"),
        ("postgres-exporter", '["/bin/postgres_exporter"]', "nobody"),
        ("blackbox-exporter", '["/bin/blackbox_exporter"]', None),
        ("redis-exporter", '["/redis_exporter"]', "59000:59000"),
        ("postgis", '["docker-entrypoint.sh"]', None),
        ("redis", '["docker-entrypoint.sh"]', None),
    ],
)
def test_upstream_entrypoints_and_users(directory: str, entrypoint: str, user: str | None) -> None:
    assert _instruction(directory, "ENTRYPOINT") == [entrypoint]
    assert _instruction(directory, "USER") == ([user] if user else [])


def test_health_check_tools_are_installed() -> None:
    """The stack's health checks run `wget` (Prometheus-project images, Directus) and `node` (frontend)."""
    for directory in ("prometheus", "alertmanager", "node-exporter", "postgres-exporter", "blackbox-exporter"):
        assert " wget" in (IMAGES_DIR / directory / "Dockerfile").read_text(), directory
    assert "redis-exporter" in STANDS and " wget" in (IMAGES_DIR / "redis-exporter" / "Dockerfile").read_text()
    assert "install -y --no-install-recommends wget" in (IMAGES_DIR / "directus" / "Dockerfile").read_text()


def test_postgres_stand_in_keeps_the_entrypoint_contract() -> None:
    entrypoint = (IMAGES_DIR / "postgis" / "docker-entrypoint.sh").read_text()
    for name in ("POSTGRES_USER", "POSTGRES_DB", "POSTGRES_PASSWORD", "PGDATA", "/docker-entrypoint-initdb.d"):
        assert name in entrypoint
    assert "file_env POSTGRES_PASSWORD" in entrypoint  # so POSTGRES_PASSWORD_FILE works
    assert _instruction("postgis", "STOPSIGNAL") == ["SIGINT"]
    assert "CREATE EXTENSION IF NOT EXISTS postgis;" in (IMAGES_DIR / "postgis" / "initdb-postgis.sh").read_text()


def test_not_rehearsed_names_grafana_and_cadvisor() -> None:
    for name in ("grafana", "cadvisor"):
        repo, _ = UPSTREAM[name]
        assert repo in NOT_REHEARSED and repo not in STAND_INS
    for name in ("traefik", "socket-proxy"):
        assert UPSTREAM[name][0] in STAND_INS


def test_the_socket_proxy_stand_in_defaults_every_switch_its_configurations_read() -> None:
    steps = image_plan.instructions(IMAGES_DIR / "socket-proxy" / "Dockerfile")
    env = " ".join(text.split(None, 1)[1] for keyword, text in steps if keyword == "ENV")
    defaults = dict(pair.split("=", 1) for pair in env.split())
    assert {k: defaults[k] for k in ("EVENTS", "PING", "VERSION", "POST", "CONTAINERS")} == {
        "EVENTS": "1",
        "PING": "1",
        "VERSION": "1",
        "POST": "0",
        "CONTAINERS": "0",
    }
    for config in (IMAGES_DIR / "socket-proxy" / "haproxy.cfg.template", ROOT / "services/socket-proxy/docker-api.cfg"):
        read = set(re.findall(r"env\((\w+)\)", config.read_text()))
        assert read and read <= set(defaults), sorted(read - set(defaults))


def test_docs_table_lists_every_stand_in() -> None:
    doc = (Path(image_plan.ROOT) / "docs" / "rehearsal.md").read_text()
    for repo in (*STAND_INS, *NOT_REHEARSED):
        assert f"`{repo}:" in doc or f"`{repo}`" in doc, repo


@pytest.mark.parametrize(
    ("directory", "package"),
    [
        ("prometheus", "prometheus"),
        ("alertmanager", "prometheus-alertmanager"),
        ("node-exporter", "prometheus-node-exporter"),
        ("blackbox-exporter", "prometheus-blackbox-exporter"),
        ("postgres-exporter", "prometheus-postgres-exporter"),
        ("redis-exporter", "prometheus-redis-exporter"),
    ],
)
def test_the_labelled_version_is_the_one_the_build_checks(directory: str, package: str) -> None:
    planned = Planned("x:1", IMAGES_DIR / directory, "x", "y")
    version = image_plan.declared_version(planned)
    check = f"dpkg-query -W -f '${{Version}}' {package} | grep -q '^{re.escape(version)}'"
    assert check in (IMAGES_DIR / directory / "Dockerfile").read_text()


@pytest.mark.parametrize("directory", STANDS)
def test_configuration_after_the_last_filesystem_step_is_committed_in_one_go(directory: str) -> None:
    head, config = image_plan.split_config(IMAGES_DIR / directory / "Dockerfile")
    assert config and all(change.split()[0] in image_plan.CONFIG_ONLY for change in config)
    final_stage = head.split("\nFROM ")[-1]
    steps = [ln for ln in final_stage.splitlines()[1:] if ln.strip()]
    assert len(steps) <= 3, f"{directory}: {len(steps)} filesystem steps in the final stage"


def test_the_real_postgres_dockerfile_is_built_as_it_is() -> None:
    head, config = image_plan.split_config(image_plan.POSTGRES_DOCKERFILE)
    assert (head, config) == (image_plan.POSTGRES_DOCKERFILE.read_text(), [])


def test_a_failed_build_stops_only_the_images_built_from_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def planned(name: str, base: str) -> Planned:
        (tmp_path / name).mkdir()
        (tmp_path / name / "Dockerfile").write_text(f'FROM {base}\nRUN true\nCMD ["x"]\n')
        return Planned(f"{name}:1", tmp_path / name, name, "test")

    builds = [planned("broken", "base:1"), planned("child", "broken:1"), planned("fine", "base:1")]

    def fake_build(p: Planned, log: images.Log) -> dict[str, object]:
        if p.ref == "broken:1":
            raise ImageError("broken:1: docker build failed")
        return {"ref": p.ref}

    monkeypatch.setattr(images, "build", fake_build)
    with ThreadPoolExecutor(max_workers=2) as pool, pytest.raises(ImageError) as caught:
        images._build_in_order(pool, builds, lambda line: None)
    assert "broken:1: docker build failed" in str(caught.value)
    assert "child:1: an image it is built FROM failed" in str(caught.value)
    assert set(caught.value.results) == {"fine:1"}


def test_the_longest_build_gets_more_cpu_and_the_same_image(
    staging: tuple[list[Planned], dict[str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    builds, _ = staging
    (directus,) = [p for p in builds if repository(p.ref) == "directus/directus"]
    assert directus.cpu_shares == 4096 and builds[0] == directus  # and it starts first
    assert all(p.cpu_shares is None for p in builds if p is not directus)
    argv: list[str] = []

    def fake_run(command: list[str], **_: object) -> subprocess.CompletedProcess[str]:
        argv.extend(command)
        Path(command[command.index("--iidfile") + 1]).write_text("sha256:1\n")
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(images.subprocess, "run", fake_run)
    images._docker_build(directus, "FROM x\n", tmp_path / "build.log")
    assert argv[argv.index("--cpu-shares") + 1] == "4096"


def test_an_image_built_from_another_goes_first_and_each_waits_only_for_its_own_base(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def planned(name: str, base: str) -> Planned:
        (tmp_path / name).mkdir()
        (tmp_path / name / "Dockerfile").write_text(f'FROM {base}\nRUN true\nCMD ["x"]\n')
        return Planned(f"{name}:1", tmp_path / name, name, "test")

    builds = [planned("stand-in", "fast:1"), planned("other", "fast:1"), planned("project", "stand-in:1")]
    builds.append(planned("late", "slow:1"))
    started: list[str] = []
    slow_base = threading.Event()

    def fake_build(p: Planned, log: images.Log) -> dict[str, object]:
        started.append(p.ref)
        if p.ref == "other:1":
            slow_base.set()  # the slow base finishes only once the fast base's images ran
        return {"ref": p.ref}

    monkeypatch.setattr(images, "build", fake_build)
    with ThreadPoolExecutor(max_workers=2) as pool:
        bases = {"fast:1": pool.submit(lambda: {"base": "fast"}), "slow:1": pool.submit(slow_base.wait)}
        results = images._build_in_order(pool, builds, lambda line: None, 2, bases)  # type: ignore[arg-type]
    assert started == ["stand-in:1", "project:1", "other:1", "late:1"]
    assert list(results) == ["fast:1", "slow:1", "stand-in:1", "other:1", "project:1", "late:1"]


@pytest.mark.parametrize("entrypoint", ["nullnull", '["docker-entrypoint.sh"]["postgres"]'])
def test_the_container_a_commit_is_made_from_goes_with_its_anonymous_volumes(
    monkeypatch: pytest.MonkeyPatch, entrypoint: str
) -> None:
    """An image with VOLUME lines (postgres, redis) gives the container anonymous volumes:
    removed without -v, every cold build left one per such image on the engine."""
    calls: list[tuple[str, ...]] = []

    def fake_docker(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        calls.append(args)
        out = entrypoint if args[:2] == ("image", "inspect") else "c0ffee" if args[0] == "create" else ""
        return subprocess.CompletedProcess(["docker", *args], 0, out, "")

    monkeypatch.setattr(images, "_docker", fake_docker)
    images._commit("built", ['CMD ["postgres"]'], "quintas-crm/postgres:1")
    assert ("rm", "-v", "c0ffee") in calls


@pytest.mark.slow  # drives a real tool
@pytest.mark.parametrize(
    "script",
    [
        "services/postgres/initdb-roles.sh",
        "rehearsal/images/socket-proxy/docker-entrypoint.sh",
        "rehearsal/images/traefik/entrypoint.sh",
    ],
)
def test_the_role_script_and_the_new_entrypoints_pass_shellcheck(script: str) -> None:
    from tests.conftest import require_tool

    shellcheck = require_tool("shellcheck", "apt-get install shellcheck")
    # The role script is sourced by the postgres entrypoint (bash), hence no shebang of its own.
    shell = ["--shell=bash"] if script.endswith("initdb-roles.sh") else []
    result = subprocess.run(
        [shellcheck, "--severity=style", *shell, str(ROOT / script)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout
