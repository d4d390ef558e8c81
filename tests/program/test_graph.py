"""`python -m ops graph`: the stack diagram from the plan, its SVG and Mermaid forms, and the committed copies."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ops.__main__ import build_parser
from ops.cli import graph as verb
from ops.graph import diagram, render
from ops.sim import engine
from tests.conftest import fresh, require_tool, shipped

ROOT = Path(__file__).resolve().parents[2]
SVG = "{http://www.w3.org/2000/svg}"
PROD_COMPONENTS = {
    "buckets",
    "containers",
    "images",
    "secrets",
    "host",
    "alb",
    "monitoring",
    "network",
    "security",
    "data",
    "keys",
    "waf",
}


# `ops graph` reads the session's runs of the real program (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("shared_runs")


def _graph(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = verb.main(build_parser("graph").parse_args(["graph", *argv]), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def _clusters_of(svg_text: str) -> dict[str, str]:
    """Each cluster of an SVG that dot drew: its title (the cluster id) -> its label."""
    root = ET.fromstring(svg_text)
    found = {}
    for group in root.iter(f"{SVG}g"):
        if group.get("class") == "cluster":
            title = group.findtext(f"{SVG}title") or ""
            found[title] = " ".join(t.text or "" for t in group.iter(f"{SVG}text"))
    return found


def test_prod_diagram_traffic_runs_internet_alb_traefik_services_data(prod: engine.Run) -> None:
    drawing = diagram.build(prod)
    traffic = {(e.source, e.target) for e in drawing.edges if e.kind == "traffic"}
    path = [
        ("internet", "LoadBalancer_alb"),
        ("LoadBalancer_alb", "Container_traefik"),
        ("Container_traefik", "Container_frontend"),
        ("Container_traefik", "Container_directus"),
        ("Container_directus", "Container_postgres"),
        ("Container_directus", "Container_redis"),
        ("Container_directus", "Bucket_uploads"),
        ("Container_postgres", "Bucket_backups"),
    ]
    assert set(path) <= traffic
    # A database user named like a service (POSTGRES_USER=directus) is no connection.
    assert ("Container_postgres", "Container_directus") not in traffic
    public = {n.name: n.public for n in drawing.nodes if n.public}
    assert set(public) == {"alb", "host"}
    assert public["alb"] == "open to the internet on 80, 443"
    assert "Elastic IP" in public["host"]
    assert {c.label.split()[0] for c in drawing.clusters} == PROD_COMPONENTS
    nested = {c.label.split()[0]: c.parent for c in drawing.clusters}
    assert nested["images"] == nested["secrets"] == "component_containers"


def test_staging_without_a_load_balancer_takes_traffic_at_traefik_on_the_host(staging: engine.Run) -> None:
    drawing = diagram.build(staging)
    traffic = {(e.source, e.target): e.label for e in drawing.edges if e.kind == "traffic"}
    assert traffic[("internet", "Container_traefik")] == "80, 443"
    assert ("Container_traefik", "Container_directus") in traffic
    assert not any(n.name == "alb" for n in drawing.nodes)
    assert {n.name: n.public for n in drawing.nodes if n.public} == {"host": "open to the internet on 80, 443"}


def test_on_ecs_traffic_runs_internet_alb_fargate_services_data() -> None:
    """topology ecs: the target groups reach the Fargate services; directus reaches RDS, Redis, uploads."""
    drawing = diagram.build(shipped("staging-ecs"))
    traffic = {(e.source, e.target): e.label for e in drawing.edges if e.kind == "traffic"}
    redis = next(n.id for n in drawing.nodes if n.name == "redis")  # the replication group, or what holds it
    assert traffic[("internet", "LoadBalancer_alb")] == "80, 443"
    assert traffic[("LoadBalancer_alb", "Service_frontend")] == "3000"
    assert traffic[("LoadBalancer_alb", "Service_directus")] == "8055"
    assert ("Service_directus", "Instance_postgres") in traffic and ("Service_directus", redis) in traffic
    assert traffic[("Service_directus", "Bucket_uploads")] == "S3"
    assert not any(source == "Service_frontend" for source, _ in traffic)  # the frontend names no data store


def test_every_cloud_resource_is_a_node_or_folded_into_one(prod: engine.Run) -> None:
    drawing = diagram.build(prod)
    cloud = [r for r in prod.resources if r.custom and not r.type.startswith("pulumi:providers:")]
    assert sum(1 + n.holds for n in drawing.nodes) == len(cloud)
    ids = {n.id for n in drawing.nodes} | {"internet"}
    assert all(e.source in ids and e.target in ids for e in drawing.edges)


def test_the_diagram_is_the_same_on_every_run(prod: engine.Run) -> None:
    again = fresh("prod")
    assert render.to_mermaid(diagram.build(again)) == render.to_mermaid(diagram.build(prod))
    assert render.to_dot(diagram.build(again)) == render.to_dot(diagram.build(prod))


def test_mermaid_has_a_subgraph_per_component_and_marks_public_nodes(prod: engine.Run) -> None:
    text = render.to_mermaid(diagram.build(prod))
    assert text.startswith("flowchart LR\n")
    lines = [line.strip() for line in text.splitlines()]
    subgraphs = {line.split()[1].split("[")[0] for line in lines if line.startswith("subgraph ")}
    assert subgraphs == {f"component_{name}" for name in PROD_COMPONENTS}
    assert lines.count("end") == len(PROD_COMPONENTS)
    assert 'internet ==>|"80, 443"| LoadBalancer_alb' in lines
    (marked,) = [line.split()[1] for line in lines if line.startswith("class ") and line.endswith(" public")]
    assert set(marked.split(",")) == {"internet", "LoadBalancer_alb", "Instance_host"}


def test_committed_diagram_and_readme_are_current() -> None:
    code, out, err = _graph("--stack", "prod", "--check")
    assert code == 0, err
    assert "current" in out


def test_check_names_each_stale_file(tmp_path: Path, prod: engine.Run) -> None:
    drawing = diagram.build(prod)
    mermaid, dot_source = render.to_mermaid(drawing), render.to_dot(drawing)
    (tmp_path / "docs").mkdir()
    (tmp_path / "README.md").write_text(verb.readme_block("prod", "flowchart LR\n  old\n") + "\n")
    (tmp_path / "docs" / "stack-prod.mmd").write_text(mermaid)
    assert verb.stale_files("prod", mermaid, dot_source, tmp_path) == ["docs/stack-prod.svg", "README.md"]
    (tmp_path / "README.md").write_text(verb.readme_block("prod", mermaid) + "\n")
    (tmp_path / "docs" / "stack-prod.svg").write_text(f"<!-- dot source digest {render.source_digest(dot_source)} -->")
    assert verb.stale_files("prod", mermaid, dot_source, tmp_path) == []


def test_committed_svg_is_valid_xml_with_a_cluster_per_component() -> None:
    svg = (ROOT / "docs" / "stack-prod.svg").read_text()
    clusters = _clusters_of(svg)
    assert {title.removeprefix("cluster_component_") for title in clusters} == PROD_COMPONENTS
    assert clusters["cluster_component_alb"].startswith("alb (LoadBalancer)")
    assert "PUBLIC: open to the internet on 80, 443" in ET.tostring(ET.fromstring(svg), encoding="unicode")


def test_readme_shows_the_prod_diagram_in_a_mermaid_block() -> None:
    readme = (ROOT / "README.md").read_text()
    mermaid = (ROOT / "docs" / "stack-prod.mmd").read_text()
    assert verb.readme_block("prod", mermaid) in readme


@pytest.mark.slow  # drives a real tool (Graphviz dot)
def test_svg_drawn_by_dot_parses_with_every_cluster(tmp_path: Path) -> None:
    require_tool("dot", render.DOT_INSTALL)
    target = tmp_path / "stack.svg"
    code, out, err = _graph("--stack", "prod", "--svg", str(target))
    assert code == 0, err
    clusters = _clusters_of(target.read_text())
    assert {title.removeprefix("cluster_component_") for title in clusters} == PROD_COMPONENTS


def test_svg_without_dot_fails_saying_how_to_install_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ops.graph.render.shutil.which", lambda name: None)
    code, _, err = _graph("--stack", "prod", "--svg", str(tmp_path / "stack.svg"))
    assert code == 1
    assert "apt-get install graphviz" in err and "dot" in err
    assert not (tmp_path / "stack.svg").exists()


def test_unknown_stack_exits_2_naming_the_missing_file() -> None:
    code, _, err = _graph("--stack", "qa")
    assert code == 2 and "Pulumi.qa.yaml" in err
