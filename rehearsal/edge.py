"""The rehearsal's checks of the edge: Traefik routes what it learns through the Docker
socket proxy, and the proxy refuses everything but the reads Traefik's provider makes.

Traefik has no Docker socket (the check looks at its mounts): a route it serves on the
host's ports can only come from container labels read through the proxy. The proxy is
probed the way Traefik reaches it, from a container on the internal docker-api network
at its service name.
"""

from __future__ import annotations

import urllib.request

from components.workload.catalogue_ingress import SOCKET_PROXY, SOCKET_PROXY_PORT
from rehearsal.checks import CheckFailed, poll
from rehearsal.stack import PROJECT, PROJECT_LABEL, Stack, run

# (method, path, the status the proxy must answer): Traefik's reads pass, everything else is 403.
PROXY_PROBES = (
    ("GET", "/_ping", 200),
    ("GET", "/version", 200),
    ("GET", "/containers/json", 200),
    ("GET", "/networks", 200),
    ("POST", "/containers/create", 403),
    ("POST", "/containers/{traefik}/exec", 403),
    ("GET", "/containers/{traefik}/archive?path=/etc", 403),
    ("GET", "/images/json", 403),
    ("GET", "/info", 403),
)
# Prints the HTTP status of each request; wget (GNU or busybox) exits non-zero on a 4xx.
PROBE_SCRIPT = r"""
for probe in "$@"; do
    method=${probe%% *}; path=${probe#* }
    if [ "$method" = POST ]; then data="--post-data={}"; else data=""; fi
    status=$(wget -q -S -O /dev/null $data "http://$PROXY$path" 2>&1 | awk '/^ *HTTP\//{s=$2} END{print s}')
    echo "$method $path $status"
done
"""


def _routed(url: str) -> str | None:
    with urllib.request.urlopen(url, timeout=5) as response:
        return f"{url} {response.status}" if response.status == 200 else None


def traefik_through_proxy(stack: Stack) -> str:
    """Traefik, with no socket, routes app and cms; the proxy answers reads and refuses writes."""
    traefik = stack.inspect(stack.container("traefik"))
    sockets = [m["Source"] for m in traefik["Mounts"] if "docker.sock" in m.get("Source", "")]
    if sockets:
        raise CheckFailed(f"traefik mounts {sockets}: it must reach Docker through {SOCKET_PROXY} only")
    routes = [
        poll(f"Traefik routes {url}", 60, 1, lambda url=url: _routed(url))
        for url in ("http://127.0.0.1:3000/api/health", "http://127.0.0.1:8055/server/ping")
    ]
    probes = [f"{m} {p.format(traefik=traefik['Id'][:12])}" for m, p, _ in PROXY_PROBES]
    image = stack.document["services"][SOCKET_PROXY]["image"]
    argv = ["docker", "run", "--rm", "--label", f"{PROJECT_LABEL}={PROJECT}", "--network", "docker-api"]
    argv += ["-e", f"PROXY={SOCKET_PROXY}:{SOCKET_PROXY_PORT}", "--entrypoint", "sh", image, "-c", PROBE_SCRIPT]
    answers = run([*argv, "probe", *probes], timeout=120).strip().splitlines()
    got = {line.rsplit(" ", 1)[0]: line.rsplit(" ", 1)[-1] for line in answers}
    wrong = [
        f"{probe} answered {got.get(probe) or 'nothing'}, not {want}"
        for probe, (_, _, want) in zip(probes, PROXY_PROBES, strict=True)
        if got.get(probe) != str(want)
    ]
    if wrong:
        raise CheckFailed("; ".join(wrong))
    answered = ", ".join(f"{m} {p.split('?')[0]} {s}" for m, p, s in PROXY_PROBES)
    return f"traefik mounts no socket and routes {', '.join(routes)}; {SOCKET_PROXY} on docker-api answered {answered}"
