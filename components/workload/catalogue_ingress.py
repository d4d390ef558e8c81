"""The catalogue's ingress: Traefik, which routes the ALB's (or, with `edge: host`, the
internet's) requests to the services, and the socket proxy through which it reads the
containers' labels instead of holding the Docker socket.
"""

from __future__ import annotations

from components.engine_versions import check_fits
from components.workload.images import UPSTREAM, upstream
from components.workload.monitoring_config import SERVICES_DIR
from components.workload.services import HealthCheck, Metrics, Port, ServiceSpec, Volume, wget_check

SOCKET_PROXY = "socket-proxy"  # the service name Traefik reaches the Docker API at
SOCKET_PROXY_PORT = 2375
PROXY_CONFIG = "/usr/local/etc/haproxy/docker-api.cfg"


def traefik(trusted_cidr: str, stack: str) -> ServiceSpec:
    """`trusted_cidr`: the VPC, where the ALB's addresses are: X-Forwarded-* from anywhere else is ignored.

    It reads container labels through the socket proxy (`socket_proxy`), never the Docker socket:
    the proxy lets only its provider's read calls through, so a compromised Traefik cannot
    create, start or exec into a container. Only the stack's own containers are routed.
    """
    check_fits(UPSTREAM["traefik"][1])
    entrypoints = {"app": 3000, "cms": 8055}
    return ServiceSpec(
        name="traefik",
        image=upstream("traefik"),
        command=(
            "--providers.docker=true",
            f"--providers.docker.endpoint=tcp://{SOCKET_PROXY}:{SOCKET_PROXY_PORT}",
            # Only containers that carry traefik.enable=true and this stack's label are routed.
            "--providers.docker.exposedByDefault=false",
            f"--providers.docker.constraints=Label(`quintas.stack`,`{stack}`)",
            "--providers.docker.network=edge",
            *(f"--entrypoints.{name}.address=:{port}" for name, port in entrypoints.items()),
            # Client IP and scheme as the ALB saw them, in the access log and in Directus's activity log.
            *(f"--entrypoints.{name}.forwardedHeaders.trustedIPs={trusted_cidr}" for name in entrypoints),
            "--entrypoints.traefik.address=:8080",
            "--ping=true",
            "--metrics.prometheus=true",
            "--accesslog=true",
            "--accesslog.format=json",
            "--log.format=json",
            "--global.checkNewVersion=false",
            "--global.sendAnonymousUsage=false",
        ),
        health=HealthCheck(("traefik", "healthcheck", "--ping"), interval="10s", start_period="10s"),
        memory_mb=96,
        cpus=0.5,
        ports=(Port(3000, 3000), Port(8055, 8055)),
        networks=("edge", "docker-api"),
        metrics=Metrics(port=8080),
        depends_on=(SOCKET_PROXY,),
        # It holds the host ports the ALB targets: the new one can only start once the old one is gone.
        replacement="delete-first",
        stop_grace_seconds=15,
    )


def socket_proxy() -> ServiceSpec:
    """The one container on the Docker socket besides cAdvisor: HAProxy in front of it for Traefik.

    Its configuration (services/socket-proxy/docker-api.cfg) allows GET/HEAD on the
    calls Traefik's provider makes and answers 403 to anything else, writes first. It is on
    the internal docker-api network only, with Traefik: no other container reaches it.
    """
    return ServiceSpec(
        name=SOCKET_PROXY,
        image=upstream(SOCKET_PROXY),
        # The image's entrypoint runs `haproxy -W -db` with these arguments.
        command=("haproxy", "-f", PROXY_CONFIG),
        # The image's switches (the others default to 0); the configuration honours each of them.
        env={
            "CONTAINERS": "1",
            "NETWORKS": "1",
            "EVENTS": "1",
            "VERSION": "1",
            "PING": "1",
            "POST": "0",
            "SOCKET_PATH": "/var/run/docker.sock",
            "LOG_LEVEL": "info",
        },
        config_files={PROXY_CONFIG: (SERVICES_DIR / "socket-proxy" / "docker-api.cfg").read_text()},
        health=wget_check(f"http://127.0.0.1:{SOCKET_PROXY_PORT}/_ping", interval="10s", start_period="10s"),
        memory_mb=32,
        cpus=0.1,
        volumes=(Volume("/var/run/docker.sock", "/var/run/docker.sock", read_only=True),),
        host_access="the socket proxy forwards Traefik's read-only Docker API calls to the Docker socket",
        networks=("docker-api",),
    )
