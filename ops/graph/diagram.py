"""The stack as a diagram: components as clusters, resources inside, dependencies and traffic.

Built from a simulated run (ops.sim): each component resource is a cluster (nested
components nest), each cloud resource a node in the cluster of its component.
What the diagram folds, to stay readable: a resource that only configures one other
resource of its component (nothing depends on it and it depends on that one alone,
such as a bucket's versioning or an Elastic IP's association) is drawn as part of
it, and so is one that only feeds one (depends on nothing, one dependent, such as a
container's image); the node says how many it holds. Dependency arrows are drawn
between components (inside one, the cluster already groups what belongs
together). Traffic arrows follow what the settings say: the internet reaches a load
balancer whose security group is open to 0.0.0.0/0, or (no load balancer, `edge: host`)
the containers publishing the ports the host's group opens to it; the load balancer's
target groups reach the container that publishes their ports (Traefik); it routes to the
containers labelled `traefik.enable`; a container reaches the containers and buckets
its environment names. On ECS the load balancer's target groups reach the Fargate services,
and a service reaches the database, cache and buckets its task's environment names. A node reachable from, or addressable on, the internet is
marked public with the reason. Everything is sorted, so the same run gives the same
diagram.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from ops.sim import engine

INTERNET = "internet"
CONTAINER = "docker:index/container:Container"
OPEN_TO_ALL = "0.0.0.0/0"
ECS_SERVICE = "aws:ecs/service:Service"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
BUCKET = "aws:s3/bucket:Bucket"
# Where a task connects to a data store: the output holding the address its environment names.
DATA_ADDRESSES = {
    "aws:rds/instance:Instance": "address",
    "aws:elasticache/replicationGroup:ReplicationGroup": "primaryEndpointAddress",
}
# Environment keys whose value is where a container connects to (DB_HOST, REDIS_ADDR, DATA_SOURCE_URI...).
ADDRESS_KEY = re.compile(r"HOST$|ADDR|URI|URL")


@dataclass(frozen=True)
class Cluster:
    id: str
    label: str
    parent: str | None


@dataclass(frozen=True)
class Node:
    id: str
    name: str
    kind: str  # the last part of the type token: Bucket, Container...
    cluster: str
    holds: int = 0  # resources folded into this one
    public: str = ""  # why the internet reaches it or can address it; "" when it cannot


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    kind: Literal["dependency", "traffic"]
    label: str = ""


@dataclass(frozen=True)
class Diagram:
    stack: str
    clusters: tuple[Cluster, ...]
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]


def node_ids(resources: list[engine.Resource]) -> dict[str, str]:
    """Short identifiers both Graphviz and Mermaid accept (kind and name), unique, by URN order."""
    ids: dict[str, str] = {}
    taken: set[str] = set()
    for r in sorted(resources, key=lambda r: r.urn):
        kind = r.type.rsplit(":", 1)[-1] if r.custom else "component"
        base = re.sub(r"[^A-Za-z0-9]+", "_", f"{kind}_{r.name}").strip("_")
        candidate, n = base, 1
        while candidate in taken:
            n += 1
            candidate = f"{base}_{n}"
        ids[r.urn] = candidate
        taken.add(candidate)
    return ids


def build(run: engine.Run) -> Diagram:
    resources = sorted(run.resources, key=lambda r: r.urn)
    ids = node_ids(resources)
    shown = [r for r in resources if r.custom and not r.type.startswith("pulumi:providers:")]
    deps = _dependencies(shown)
    owner = _folding(shown, deps)

    def nid(resource: engine.Resource) -> str:
        return ids[owner[resource.urn]]

    public = {owner[u]: why for u, why in _exposure(shown).items()}
    nodes = []
    for r in shown:
        if owner[r.urn] == r.urn:
            holds = sum(1 for u, o in owner.items() if o == r.urn and u != r.urn)
            kind = r.type.rsplit(":", 1)[-1]
            nodes.append(Node(ids[r.urn], r.name, kind, ids[r.parent or ""], holds, public.get(r.urn, "")))
    components = [r for r in resources if not r.custom and r.parent is not None]
    clusters = [
        Cluster(ids[r.urn], f"{r.name} ({r.type.rsplit(':', 1)[-1]})", ids.get(r.parent or "")) for r in components
    ]
    by_urn = {r.urn: r for r in shown}
    edges = {Edge(nid(by_urn[a]), nid(by_urn[b]), "dependency") for a, b in _cross(deps, owner, by_urn)}
    edges |= set(_traffic(shown, nid))
    return Diagram(run.stack, tuple(clusters), tuple(nodes), tuple(sorted(edges, key=_edge_key)))


def _edge_key(edge: Edge) -> tuple[str, str, str, str]:
    return (edge.kind, edge.source, edge.target, edge.label)


def _dependencies(shown: list[engine.Resource]) -> dict[str, set[str]]:
    """Each shown resource's dependencies among the shown ones (options and property dependencies)."""
    urns = {r.urn for r in shown}
    deps: dict[str, set[str]] = {}
    for r in shown:
        found = set(r.depends_on) | {d for ds in r.property_dependencies.values() for d in ds}
        deps[r.urn] = {d for d in found if d in urns and d != r.urn}
    return deps


def _folding(shown: list[engine.Resource], deps: dict[str, set[str]]) -> dict[str, str]:
    """Each resource's node: resources of one component with one name share the node of the one most
    depended on (a bucket and its settings); then a node that nothing depends on and that depends on
    one other node of its component alone (a security group rule) joins that one."""
    parent = {r.urn: r.parent for r in shown}
    kinds = {r.urn: r.type for r in shown}
    dependents: dict[str, set[str]] = {r.urn: set() for r in shown}
    for urn, found in deps.items():
        for d in found:
            dependents[d].add(urn)
    groups: dict[tuple[str | None, str], list[str]] = {}
    for r in shown:
        groups.setdefault((r.parent, r.name), []).append(r.urn)
    owner: dict[str, str] = {}
    for members in groups.values():
        # A container stands for its image; else the one most depended on (the first of equals: sorted).
        principal = max(members, key=lambda u: (kinds[u] == CONTAINER, len(dependents[u])))
        owner.update(dict.fromkeys(members, principal))
    targets: set[str] = set()
    for principal in sorted(set(owner.values())):
        members = [u for u, o in owner.items() if o == principal]
        needs = {owner[d] for u in members for d in deps[u]} - {principal}
        needed = {owner[d] for u in members for d in dependents[u]} - {principal}
        if len(needs) == 1 and not needed and principal not in targets:
            (target,) = needs
            if parent[target] == parent[principal] and owner[target] == target:
                owner.update(dict.fromkeys(members, target))
                targets.add(target)
    return owner


def _cross(
    deps: dict[str, set[str]], owner: dict[str, str], by_urn: dict[str, engine.Resource]
) -> set[tuple[str, str]]:
    """Dependencies between resources of different components, as (dependent, dependency)."""
    pairs = set()
    for urn, found in deps.items():
        for d in found:
            if owner[urn] != owner[d] and by_urn[urn].parent != by_urn[d].parent:
                pairs.add((urn, d))
    return pairs


def _exposure(shown: list[engine.Resource]) -> dict[str, str]:
    """Resources the internet reaches (a security group open to 0.0.0.0/0) or can address (a public IP)."""
    open_ports: dict[str, list[str]] = {}
    for r in shown:
        if (
            r.type.endswith("securityGroupIngressRule:SecurityGroupIngressRule")
            and r.inputs.get("cidrIpv4") == OPEN_TO_ALL
        ):
            open_ports.setdefault(str(r.inputs.get("securityGroupId")), []).append(_port(r.inputs.get("fromPort")))
    public: dict[str, str] = {}
    for r in shown:
        groups = [str(g) for g in (r.inputs.get("securityGroups") or r.inputs.get("vpcSecurityGroupIds") or [])]
        ports = sorted({p for g in groups for p in open_ports.get(g, [])}, key=lambda p: (len(p), p))
        if ports and not r.inputs.get("internal"):
            public[r.urn] = f"open to the internet on {', '.join(ports)}"
    instances = {str(r.id): r.urn for r in shown if r.type == "aws:ec2/instance:Instance"}
    for r in shown:
        if r.type == "aws:ec2/eip:Eip" and str(r.inputs.get("instance")) in instances:
            urn = instances[str(r.inputs.get("instance"))]
            public.setdefault(urn, "public IPv4 (Elastic IP); no inbound rule from the internet")
    return public


def _port(value: object) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _traffic(shown: list[engine.Resource], nid: Callable[[engine.Resource], str]) -> list[Edge]:
    edges: list[Edge] = []
    exposed = _exposure(shown)
    containers = [r for r in shown if r.type == CONTAINER]
    target_ports = sorted(
        {_port(r.inputs.get("port")) for r in shown if r.type.endswith("targetGroupAttachment:TargetGroupAttachment")}
    )
    for lb in (r for r in shown if r.type == "aws:lb/loadBalancer:LoadBalancer"):
        if lb.urn in exposed:
            edges.append(Edge(INTERNET, nid(lb), "traffic", exposed[lb.urn].removeprefix("open to the internet on ")))
        for c in containers:
            published = {_port(p.get("external")) for p in c.inputs.get("ports") or []}
            if published & set(target_ports):
                edges.append(Edge(nid(lb), nid(c), "traffic", ", ".join(sorted(published & set(target_ports)))))
    for host in (r for r in shown if r.type == "aws:ec2/instance:Instance"):
        open_ports = set(exposed.get(host.urn, "").removeprefix("open to the internet on ").split(", "))
        for c in containers:  # no load balancer in front: the internet reaches the host's published ports
            published = {_port(p.get("external")) for p in c.inputs.get("ports") or []} & open_ports
            if published:
                edges.append(Edge(INTERNET, nid(c), "traffic", ", ".join(sorted(published, key=lambda p: (len(p), p)))))
    routers = [c for c in containers if c.inputs.get("ports")]
    for c in containers:
        labels = {str(item.get("label")): str(item.get("value")) for item in c.inputs.get("labels") or []}
        if labels.get("traefik.enable") == "true":
            entry = sorted(v for k, v in labels.items() if k.endswith(".entrypoints"))
            edges += [Edge(nid(router), nid(c), "traffic", ", ".join(entry)) for router in routers]
    edges += _named_in_environment(containers, shown, nid)
    return edges + _fargate(shown, nid)


def _fargate(shown: list[engine.Resource], nid: Callable[[engine.Resource], str]) -> list[Edge]:
    """The load balancers reach the Fargate services behind their target groups; a service reaches the
    data stores (by address) and buckets (by name) its task definition's environment names."""
    tasks = {str(r.outputs.get("arn")): r for r in shown if r.type == TASK_DEFINITION}
    stores = {str(r.outputs.get(DATA_ADDRESSES[r.type])): (r, "") for r in shown if r.type in DATA_ADDRESSES}
    stores |= {str(r.inputs.get("bucket")): (r, "S3") for r in shown if r.type == BUCKET}
    balancers = [r for r in shown if r.type == "aws:lb/loadBalancer:LoadBalancer"]
    edges = []
    for service in (r for r in shown if r.type == ECS_SERVICE):
        ports = sorted({_port(b.get("containerPort")) for b in service.inputs.get("loadBalancers") or []})
        edges += [Edge(nid(lb), nid(service), "traffic", ", ".join(ports)) for lb in balancers if ports]
        task = tasks.get(str(service.inputs.get("taskDefinition")))
        definitions = json.loads(str(task.inputs.get("containerDefinitions") or "[]")) if task else []
        values = {str(e.get("value")) for d in definitions for e in d.get("environment") or []}
        for address, (store, label) in sorted(stores.items()):  # the address alone, or the host of a URL
            named = re.compile(rf"(?:^|[/@]){re.escape(address)}(?:[:/]|$)")
            if any(named.search(v) for v in values):
                edges.append(Edge(nid(service), nid(store), "traffic", label))
    return edges


def _named_in_environment(
    containers: list[engine.Resource], shown: list[engine.Resource], nid: Callable[[engine.Resource], str]
) -> list[Edge]:
    """A container reaches the containers (by host name) and buckets (by name) its environment names."""
    buckets = {str(r.inputs.get("bucket")): r for r in shown if r.type == "aws:s3/bucket:Bucket"}
    edges = []
    for c in containers:
        pairs = [str(e).partition("=")[::2] for e in engine.plain_strings(c.inputs.get("envs") or [])]
        values = [value for _, value in pairs]
        addresses = [value for key, value in pairs if ADDRESS_KEY.search(key) or "://" in value]
        for other in containers:
            host = re.compile(rf"(?:^|[/@]){re.escape(other.name)}(?:[:/]|$)")
            if other is not c and any(host.search(v) for v in addresses):
                edges.append(Edge(nid(c), nid(other), "traffic"))
        for name, bucket in sorted(buckets.items()):
            if name in values:
                edges.append(Edge(nid(c), nid(bucket), "traffic", "S3"))
    return edges
