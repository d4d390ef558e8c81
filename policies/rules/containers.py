"""Container rules on pulumi-docker `docker.Container` and `docker.RemoteImage`: no
undeclared privileged container, no host port on postgres and redis, a health check,
a memory limit and a restart policy on every container, pinned images, no
secret-looking value in the plain environment (secrets go in files, `*_FILE`), no
Docker socket in a container the config does not declare, and Directus's cookie,
CORS and proxy settings."""

from __future__ import annotations

import re
from typing import Any

from pulumi_policy import ResourceValidationArgs, Severity

from .base import PROJECT_RULE, Report, Rule, get, is_unknown, items, label, number

CONTAINER = ("docker:index/container:Container",)
REMOTE_IMAGE = ("docker:index/remoteImage:RemoteImage",)

SECRET_NAME = re.compile(
    r"(^|_)(PASSWORD|PASSWD|PWD|SECRET|SECRETS|TOKEN|TOKENS|CREDENTIALS?|API_?KEY|PRIVATE_KEY|ACCESS_KEY|SECRET_KEY|KEY)$"
)
SECRET_VALUE = (
    re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"^[a-z][a-z0-9+.-]*://[^/:@\s]+:[^@\s]+@"),  # a URL with user:password@
)
RESTART_POLICIES = ("unless-stopped", "always", "on-failure")
DOCKER_SOCKETS = ("/var/run/docker.sock", "/run/docker.sock")
DIRECTUS_SECURE_COOKIES = ("SESSION_COOKIE_SECURE", "REFRESH_TOKEN_COOKIE_SECURE")
DIRECTUS_SAME_SITE = ("SESSION_COOKIE_SAME_SITE", "REFRESH_TOKEN_COOKIE_SAME_SITE")


def container_is(resource: Any, wanted: str) -> bool:
    """True if the container's resource name or Docker name is `wanted` (or ends with `-wanted`)."""
    names = [resource.name, get(resource.props, "name")]
    return any(isinstance(n, str) and (n == wanted or n.endswith(f"-{wanted}")) for n in names)


def envs(props: Any) -> list[tuple[str, Any]]:
    """(name, value) pairs of `envs`, a list of `NAME=value` strings; an unknown entry gives ("", UNKNOWN)."""
    pairs: list[tuple[str, Any]] = []
    for entry in items(props, "envs"):
        if isinstance(entry, str):
            name, _, value = entry.partition("=")
            pairs.append((name, value))
        else:
            pairs.append(("", entry))
    return pairs


def _privileged(args: ResourceValidationArgs, report: Report) -> None:
    if get(args.props, "privileged") is not True:
        return
    allowed = args.get_config()["allowed"]
    if not any(container_is(args, name) and str(reason).strip() for name, reason in allowed.items()):
        report(f"{label(args)} runs privileged without a declared justification (policy config `allowed`)")


def _no_host_port(args: ResourceValidationArgs, report: Report) -> None:
    for name in args.get_config()["containers"]:
        if container_is(args, name):
            ports = [p for p in items(args.props, "ports") if not is_unknown(p)]
            published = [get(p, "external") or get(p, "internal") for p in ports]
            if published:
                report(
                    f"{label(args)} ({name}) publishes host port(s) {', '.join(str(p) for p in published)}; reach it on the backend network only"
                )


def _healthcheck(args: ResourceValidationArgs, report: Report) -> None:
    check = get(args.props, "healthcheck")
    if is_unknown(check):
        return
    tests = items(check, "tests")
    if any(is_unknown(t) for t in tests):
        return
    if not tests or tests[0] == "NONE":
        report(f"{label(args)} has no health check (healthcheck.tests)")


def _memory_limit(args: ResourceValidationArgs, report: Report) -> None:
    memory = get(args.props, "memory")
    if is_unknown(memory):
        return
    if (number(memory) or 0) <= 0:
        report(f"{label(args)} has no memory limit: one leak can starve postgres on the shared host")


def _restart(args: ResourceValidationArgs, report: Report) -> None:
    restart = get(args.props, "restart")
    if not is_unknown(restart) and restart not in RESTART_POLICIES:
        report(f"{label(args)}: restart policy is {restart or 'no'!r}; it would stay down after a crash or reboot")


def secret_env_problems(pairs: list[tuple[str, Any]]) -> list[str]:
    problems = []
    for name, value in pairs:
        if is_unknown(value) or not isinstance(value, str) or not value:
            continue
        upper = name.upper()
        if upper.endswith("_FILE") or value.startswith("/run/secrets/"):
            continue
        if SECRET_NAME.search(upper):
            problems.append(f"{name} holds a value in the plain environment")
        elif any(p.search(value) for p in SECRET_VALUE):
            problems.append(f"{name} holds a value that looks like a credential")
    return problems


def _no_secret_env(args: ResourceValidationArgs, report: Report) -> None:
    problems = secret_env_problems(envs(args.props))
    if problems:
        report(f"{label(args)}: {'; '.join(problems)}; deliver it as a file under /run/secrets and a *_FILE variable")


def socket_mount(host_path: Any) -> str | None:
    """The Docker socket `host_path` puts in the container: the socket, or a directory holding it."""
    if not isinstance(host_path, str) or not host_path.startswith("/"):
        return None
    path = "/" + host_path.strip("/")
    for sock in DOCKER_SOCKETS:
        if path == sock or sock.startswith(path.rstrip("/") + "/"):
            return sock
    return None


def _docker_socket(args: ResourceValidationArgs, report: Report) -> None:
    allowed = args.get_config()["allowed"]
    if any(container_is(args, name) and str(reason).strip() for name, reason in allowed.items()):
        return
    for volume in items(args.props, "volumes"):
        host_path = get(volume, "hostPath")
        sock = socket_mount(host_path)
        if sock:
            shown = host_path if host_path.rstrip("/") == sock else f"{host_path}, which holds {sock}"
            report(
                f"{label(args)} mounts the Docker socket ({shown}): whoever controls it is root on the host; "
                "reach the Docker API through the socket proxy, or declare why in policy config `allowed`"
            )


def directus_problems(env: dict[str, Any]) -> list[str]:
    """What Directus's environment lacks for serving browsers behind a TLS-terminating proxy."""
    known = {k: v for k, v in env.items() if not is_unknown(v)}
    if len(known) < len(env):
        return []  # some value is only known after the deployment
    problems = [f"{var} is not true" for var in DIRECTUS_SECURE_COOKIES if str(known.get(var, "")).lower() != "true"]
    problems += [
        f"{var} is {known.get(var) or 'unset (lax)'}, not strict or lax"
        for var in DIRECTUS_SAME_SITE
        if str(known.get(var, "")).lower() not in ("strict", "lax")
    ]
    if not str(known.get("PUBLIC_URL", "")).startswith("https://"):
        problems.append(f"PUBLIC_URL {known.get('PUBLIC_URL')!r} is not an https:// address")
    origins = [o.strip() for o in str(known.get("CORS_ORIGIN", "")).split(",") if o.strip()]
    if str(known.get("CORS_ENABLED", "")).lower() != "true" or not origins:
        problems.append("CORS is not enabled with an explicit CORS_ORIGIN")
    elif any(not o.startswith("https://") or "*" in o for o in origins):
        problems.append(f"CORS_ORIGIN {known['CORS_ORIGIN']!r} allows more than named https:// origins")
    if str(known.get("IP_TRUST_PROXY", "true")).lower() in ("true", "1", "*"):
        problems.append("IP_TRUST_PROXY trusts X-Forwarded-For from any address (Directus 11's default)")
    return problems


def _directus_settings(args: ResourceValidationArgs, report: Report) -> None:
    if not container_is(args, args.get_config()["container"]):
        return
    pairs = envs(args.props)
    if any(name == "" for name, _ in pairs):
        return
    problems = directus_problems(dict(pairs))
    if problems:
        report(f"{label(args)}: {'; '.join(problems)}")


def image_problem(ref: Any) -> str | None:
    if not isinstance(ref, str) or is_unknown(ref):
        return None
    if ref.startswith("sha256:") or "@sha256:" in ref:
        return None
    last = ref.rsplit("/", 1)[-1]
    if ":" not in last:
        return f"image {ref!r} has no tag (it means latest)"
    if last.rsplit(":", 1)[-1] == "latest":
        return f"image {ref!r} uses the tag latest"
    return None


def _image_pinned(args: ResourceValidationArgs, report: Report) -> None:
    prop = "name" if args.resource_type in REMOTE_IMAGE else "image"
    problem = image_problem(get(args.props, prop))
    if problem:
        report(f"{label(args)}: {problem}; pin a version or digest so a restart cannot change what runs")


RULES = [
    Rule(
        name="container-no-undeclared-privileged",
        description="No container runs privileged unless the policy config declares it with a justification.",
        why="A privileged container is root on the host, with its devices and every other container's data.",
        severity=Severity.CRITICAL,
        check=_privileged,
        resource_types=CONTAINER,
        references=("CIS-Docker-v1.2.0 5.4",),
        config={
            "allowed": {
                "type": "object",
                "additionalProperties": {"type": "string", "minLength": 10},
                "default": {
                    "cadvisor": "cAdvisor reads every container's cgroup, device and filesystem statistics, which needs privileged on cgroup v2 hosts"
                },
                "description": "container name -> why it must run privileged",
            }
        },
    ),
    Rule(
        name="container-no-host-port-for-data-services",
        references=(
            "project rule: CIS Docker 5.13 binds published ports to an interface; this rule forbids publishing them at all",
        ),
        description="The postgres and redis containers publish no host port.",
        why="They are reached on the internal backend network only; a host port exposes them to anything that reaches the host.",
        severity=Severity.HIGH,
        check=_no_host_port,
        resource_types=CONTAINER,
        config={
            "containers": {
                "type": "array",
                "items": {"type": "string"},
                "default": ["postgres", "redis"],
                "description": "containers that must not publish ports",
            }
        },
    ),
    Rule(
        name="container-healthcheck",
        description="Every container has a health check.",
        why="Traefik routes only to healthy containers and the zero-downtime update waits on it; without one a broken container gets traffic.",
        severity=Severity.MEDIUM,
        check=_healthcheck,
        resource_types=CONTAINER,
        references=("CIS-Docker-v1.2.0 4.6",),
    ),
    Rule(
        name="container-memory-limit",
        description="Every container has a memory limit.",
        why="All services share one host: without limits, one leak makes the kernel kill postgres.",
        severity=Severity.MEDIUM,
        check=_memory_limit,
        resource_types=CONTAINER,
        references=("CIS-Docker-v1.2.0 5.10",),
    ),
    Rule(
        name="container-restart-policy",
        references=(
            "project rule: CIS Docker 5.14 asks for on-failure with at most 5 retries; a single host with no orchestrator needs unless-stopped",
        ),
        description="Every container restarts by itself (unless-stopped, always or on-failure).",
        why="After a crash or a host reboot the CRM must come back without an operator.",
        severity=Severity.MEDIUM,
        check=_restart,
        resource_types=CONTAINER,
    ),
    Rule(
        name="container-no-secret-in-env",
        description="No container has a secret-named variable or a credential-looking value in its plain environment.",
        why="The environment shows in `docker inspect`, in crash reports and in the Pulumi state; secrets go in files (`*_FILE`).",
        severity=Severity.CRITICAL,
        check=_no_secret_env,
        resource_types=CONTAINER,
        references=("CIS-Docker-v1.2.0 4.10",),
    ),
    Rule(
        name="container-no-docker-socket",
        description="No container mounts the Docker socket, or a host directory that holds it, unless the policy config declares it with a reason.",
        why="The Docker API is root on the host and the instance role: read-only on the socket file restricts no API call. Traefik gets it through the socket proxy, which allows reads only.",
        severity=Severity.CRITICAL,
        check=_docker_socket,
        resource_types=CONTAINER,
        references=("CIS-Docker-v1.2.0 5.31",),
        config={
            "allowed": {
                "type": "object",
                "additionalProperties": {"type": "string", "minLength": 10},
                "default": {
                    "socket-proxy": "the Docker socket proxy is the one way to the Docker API: it lets Traefik's provider read containers, networks, events and the version, and answers 403 to everything else",
                    "cadvisor": "cAdvisor mounts /var/run read-only to find the engine's containers; it runs privileged anyway (container-no-undeclared-privileged), so the socket gives it nothing more",
                    "node-exporter": "node-exporter mounts the host's / read-only for filesystem metrics, and / holds the socket; it runs as nobody (uid 65534), to whom the socket's root:docker 0660 mode refuses a connection",
                },
                "description": "container name -> why it may mount the Docker socket or a directory holding it",
            }
        },
    ),
    Rule(
        name="directus-behind-tls-proxy",
        description="Directus marks its session and refresh-token cookies Secure with SameSite strict or lax, serves an https PUBLIC_URL, answers CORS for named https origins only and trusts X-Forwarded-For only from its proxies.",
        why="Directus 11 defaults to cookies without Secure, no CORS policy and trusting any X-Forwarded-For, so a session could leak over plain HTTP and a client could forge its address in the activity log.",
        severity=Severity.HIGH,
        check=_directus_settings,
        resource_types=CONTAINER,
        references=(f"{PROJECT_RULE}no CIS, FSBP or checkov control covers an application's settings",),
        config={"container": {"type": "string", "default": "directus", "description": "the Directus container's name"}},
    ),
    Rule(
        name="container-image-pinned",
        description="Every container image has an explicit version tag or digest, never latest.",
        why="With latest, a restart or a host rebuild silently runs different code than was reviewed.",
        severity=Severity.MEDIUM,
        check=_image_pinned,
        resource_types=CONTAINER + REMOTE_IMAGE,
        references=("checkov CKV_DOCKER_7",),
    ),
]
