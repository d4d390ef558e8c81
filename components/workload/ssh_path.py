"""The deploy path: how `pulumi` on a runner or a laptop reaches the host's Docker engine.

One multiplexed SSH connection per run, carried by SSM Session Manager by default
(no port 22 open; `direct` mode connects to the public IP from the admin CIDRs).
`ssh_path()` returns everything the program gives the Docker provider (address and
ssh options) and the `host-ready` command that opens the shared connection first,
checking this machine's tools and key before it. It makes no resource.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

# The deploy key's private half, where CI's setup step (scripts/deploy/ssh-key.sh) and an
# operator put it: its public half is the stack's operatorPublicKey (docs/runbooks/deploy.md).
DEPLOY_KEY = "~/.ssh/quintas-crm-deploy"
# Short on purpose: a Unix socket path holds at most ~104 bytes, and %C (a hash of local
# host, remote host, port and user) is the same for the readiness check and the provider.
CONTROL_PATH = "/tmp/quintas-ssh-%C"
SSM_PROXY = (
    "aws ssm start-session --document-name AWS-StartSSHSession --parameters portNumber=%p --target {instance} "
    "--region {region}"
)


@dataclass(frozen=True)
class SshPath:
    """How the program reaches the host's Docker engine: the provider's address and ssh options,
    and the readiness command that opens the one shared connection first.

    A rehearsal reuses these values unchanged but for the ProxyCommand (`ssh_path(proxy_command=...)`).
    """

    host: str  # ssh://user@target, the Docker provider's address
    options: list[str]  # the provider's ssh_opts, and the readiness check's ssh options
    ready_command: str  # a shell command line: checks the local tools and key, then waits for the host


def ssh_path(
    mode: str,
    user: str,
    instance_id: str,
    public_ip: str,
    region: str,
    marker: str | None = None,
    *,
    proxy_command: str | None = None,
    key_file: str = DEPLOY_KEY,
) -> SshPath:
    """The one SSH path of a run; `proxy_command` replaces the SSM one (ssm mode only)."""
    if mode not in ("ssm", "direct"):
        raise ValueError(f"sshMode {mode!r} is not supported; use ssm or direct")
    target = f"{user}@{instance_id if mode == 'ssm' else public_ip}"
    options = ssh_options(mode, instance_id, region, proxy_command=proxy_command, key_file=key_file)
    ssh = shlex.join(["ssh", *options, target, ready_script(marker)])
    checks = preflight(key_file, uses_ssm=mode == "ssm" and proxy_command is None)
    unreachable = _fail(
        f"cannot open the SSH path to {target}: the key must match operatorPublicKey, the caller needs "
        f"ssm:StartSession on {instance_id} (AWS-StartSSHSession) and the host's SSM agent must be online; "
        "see docs/runbooks/deploy.md",
        "$rc",
    )
    ready = f'{checks}; {ssh} || {{ rc=$?; if [ "$rc" -eq 255 ]; then {unreachable}; fi; exit "$rc"; }}'
    return SshPath(host=f"ssh://{target}", options=options, ready_command=ready)


def ssh_options(
    mode: str, instance_id: str, region: str, *, proxy_command: str | None = None, key_file: str = DEPLOY_KEY
) -> list[str]:
    """The ssh client options of the Docker provider and the readiness check (one list for both)."""
    opts = [
        "-o", "StrictHostKeyChecking=accept-new",
        "-o", f"IdentityFile={key_file}",
        "-o", "IdentitiesOnly=yes",
        # One connection, so one SSM session, per run: the readiness check opens it and every
        # provider operation after it rides on the same socket instead of a new session each.
        "-o", "ControlMaster=auto",
        "-o", f"ControlPath={CONTROL_PATH}",
        "-o", "ControlPersist=10m",
        # A session SSM dropped is noticed within a minute, not at the next operation.
        "-o", "ServerAliveInterval=15",
        "-o", "ServerAliveCountMax=4",
        "-o", "ConnectTimeout=60",
    ]  # fmt: skip
    if mode == "ssm":
        proxy = proxy_command or SSM_PROXY.format(instance=instance_id, region=region)
        opts = ["-o", f"ProxyCommand={proxy}", *opts]
    return opts


def preflight(key_file: str, *, uses_ssm: bool) -> str:
    """Shell checks of what the path needs on this machine, each failing with a one-line fix."""
    key = f'"$HOME"/{shlex.quote(key_file[2:])}' if key_file.startswith("~/") else shlex.quote(key_file)
    checks = [f"command -v ssh >/dev/null || {_fail('ssh is not installed; install openssh-client')}"]
    if uses_ssm:
        checks += [
            f"command -v aws >/dev/null || {_fail('the aws CLI is not installed; install AWS CLI v2')}",
            "command -v session-manager-plugin >/dev/null || "
            + _fail(
                "session-manager-plugin is not installed; install the AWS Session Manager plugin (docs/going-live.md)"
            ),
        ]
    checks.append(
        f"test -r {key} || "
        + _fail(
            f"no deploy key at {key_file}; in CI set the environment secret DEPLOY_SSH_KEY, on a laptop see docs/runbooks/deploy.md"
        )
    )
    return "; ".join(checks)


def _fail(message: str, code: str = "1") -> str:
    return f"{{ echo {shlex.quote('host-ready: ' + message)} >&2; exit {code}; }}"


# Waits for first boot to finish and for the engine to answer. Exit 2 is cloud-init's
# "done with recoverable errors" (deprecation warnings among them), still a usable host.
CLOUD_INIT_WAIT = (
    "cloud-init status --wait >/dev/null; rc=$?; "
    'if [ "$rc" -ne 0 ] && [ "$rc" -ne 2 ]; then echo "cloud-init failed ($rc)" >&2; exit "$rc"; fi'
)
DOCKER_VERSION = "docker version --format '{{.Server.Version}}'"


def ready_script(marker: str | None = None) -> str:
    steps = [CLOUD_INIT_WAIT]
    if marker:
        steps.append(f"test -f {shlex.quote(marker)} || {{ echo 'host not ready: no {marker}' >&2; exit 1; }}")
    return "; ".join([*steps, DOCKER_VERSION])
