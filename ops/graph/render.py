"""The diagram as text: Graphviz `dot` source, the SVG `dot` draws from it, and Mermaid.

Traffic arrows are bold and blue, dependency arrows dashed and grey, public nodes
red with the reason. The SVG carries the digest of the `dot` source it was drawn
from (a comment), so a test can tell a current drawing from a stale one without
comparing what a given Graphviz version laid out.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Callable

from ops.graph.diagram import INTERNET, Diagram, Node

DOT_INSTALL = "apt-get install graphviz (Debian package; scripts/install-system-deps.sh installs it)"
PUBLIC_FILL = "#fde2e1"


class GraphvizMissing(Exception):
    """`dot` is not installed: it draws the SVG."""


def _label(node: Node, newline: str) -> str:
    text = f"{node.name}{newline}{node.kind}"
    if node.holds:
        text += f" +{node.holds}"
    if node.public:
        text += f"{newline}PUBLIC: {node.public}"
    return text


def _cluster_lines(
    diagram: Diagram, opening: Callable[[str, str], str], node_line: Callable[[Node], str], closing: str
) -> list[str]:
    """Each cluster, nested clusters inside it, as `opening`, its nodes' lines and `closing`."""
    ids = {c.id for c in diagram.clusters}
    labels = {c.id: c.label for c in diagram.clusters}
    tree: dict[str | None, list[str]] = {}
    for c in diagram.clusters:
        tree.setdefault(c.parent if c.parent in ids else None, []).append(c.id)
    members: dict[str, list[Node]] = {}
    for node in diagram.nodes:
        members.setdefault(node.cluster, []).append(node)
    lines: list[str] = []

    def cluster(cid: str, depth: int) -> None:
        pad = "  " * depth
        lines.append(pad + opening(cid, labels[cid]))
        lines.extend(f"{pad}  {node_line(node)}" for node in members.get(cid, []))
        for child in tree.get(cid, []):
            cluster(child, depth + 1)
        lines.append(pad + closing)

    for top in tree.get(None, []):
        cluster(top, 1)
    return lines


def to_dot(diagram: Diagram) -> str:
    lines = [
        "digraph stack {",
        f'  graph [rankdir=LR, fontname="Helvetica", fontsize=12, label="stack {diagram.stack}: components,'
        f' resources, traffic (blue) and dependencies (dashed)", labelloc=t];',
        '  node [shape=box, style="rounded,filled", fillcolor=white, fontname="Helvetica", fontsize=10];',
        '  edge [fontname="Helvetica", fontsize=9];',
        f'  {INTERNET} [label="internet", shape=ellipse, fillcolor="{PUBLIC_FILL}"];',
    ]

    def dot_node(node: Node) -> str:
        fill = f', fillcolor="{PUBLIC_FILL}", color=red' if node.public else ""
        return f'{node.id} [label="{_label(node, chr(92) + "n")}"{fill}];'

    lines += _cluster_lines(
        diagram, lambda cid, label: f'subgraph "cluster_{cid}" {{ label="{label}"; style=rounded;', dot_node, "}"
    )
    for edge in diagram.edges:
        style = 'color="#1f5fbf", penwidth=2' if edge.kind == "traffic" else 'style=dashed, color="#999999"'
        label = f', label="{edge.label}"' if edge.label else ""
        lines.append(f"  {edge.source} -> {edge.target} [{style}{label}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def source_digest(dot_source: str) -> str:
    return hashlib.sha256(dot_source.encode()).hexdigest()[:16]


def to_svg(dot_source: str) -> str:
    """The SVG `dot` draws, with the digest of its source as a comment after the XML declaration."""
    dot = shutil.which("dot")
    if dot is None:
        raise GraphvizMissing(f"Graphviz `dot` is not installed; install it with: {DOT_INSTALL}")
    svg = subprocess.run([dot, "-Tsvg"], input=dot_source, capture_output=True, text=True, check=True).stdout
    head, _, rest = svg.partition("\n")
    return f"{head}\n<!-- dot source digest {source_digest(dot_source)} -->\n{rest}"


def to_mermaid(diagram: Diagram) -> str:
    lines = ["flowchart LR", f"  {INTERNET}((internet))"]
    lines += _cluster_lines(
        diagram,
        lambda cid, label: f'subgraph {cid}["{label}"]',
        lambda node: f'{node.id}["{_label(node, "<br/>")}"]',
        "end",
    )
    for edge in diagram.edges:
        arrow = "==>" if edge.kind == "traffic" else "-.->"
        label = f'|"{edge.label}"|' if edge.label else ""
        lines.append(f"  {edge.source} {arrow}{label} {edge.target}")
    public = [node.id for node in diagram.nodes if node.public] + [INTERNET]
    lines.append("  classDef public fill:#fde2e1,stroke:#d00,stroke-width:2px")
    lines.append(f"  class {','.join(public)} public")
    return "\n".join(lines) + "\n"
