"""The deploy path (issue 14, item 1): one multiplexed SSH connection per run, carried by SSM.

The provider's ssh options and the host-ready command come from one function,
`components.workload.ssh_path.ssh_path`; the command's local checks run here in a real shell
with stand-in `ssh`, `aws` and `session-manager-plugin` commands.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from components.workload.ssh_path import CONTROL_PATH, DEPLOY_KEY, ssh_path
from ops.sim import engine
from tests.conftest import simulate
from tests.helpers.stand_in import containers_program
from tests.program.test_container_host_path import provider_inputs, ssh_argv

MULTIPLEXING = {"ControlMaster": "auto", "ControlPath": CONTROL_PATH, "ControlPersist": "10m"}
KEEPALIVES = {"ServerAliveInterval": "15", "ServerAliveCountMax": "4"}


def options(argv: list[str]) -> dict[str, str]:
    """`-o Key=value` pairs of an ssh argument list."""
    pairs = [argv[i + 1] for i, word in enumerate(argv) if word == "-o"]
    return dict(pair.split("=", 1) for pair in pairs)


def test_provider_and_host_ready_use_the_same_multiplexed_connection(containers_staging: engine.Run) -> None:
    provider = json.loads(provider_inputs(containers_staging)["sshOpts"])
    ready = ssh_argv(containers_staging.one("command:local:Command", "host-ready").inputs["create"])
    assert ready[1:-2] == provider  # ssh <options> user@host script
    for opts in (options(provider), options(ready)):
        assert MULTIPLEXING.items() <= opts.items()
        assert KEEPALIVES.items() <= opts.items()
        assert opts["IdentityFile"] == DEPLOY_KEY
    # %C is the same for both callers (same user, host, port); the path stays far below the socket limit.
    assert "%C" in CONTROL_PATH and len(CONTROL_PATH.replace("%C", "x" * 40)) < 100


def test_the_ssm_proxy_command_names_the_instance_and_the_region(containers_staging: engine.Run) -> None:
    host = containers_staging.one("aws:ec2/instance:Instance", "host")
    provider = json.loads(provider_inputs(containers_staging)["sshOpts"])
    ready = ssh_argv(containers_staging.one("command:local:Command", "host-ready").inputs["create"])
    for proxy in (options(provider)["ProxyCommand"], options(ready)["ProxyCommand"]):
        words = proxy.split()
        assert words[:3] == ["aws", "ssm", "start-session"]
        assert words[words.index("--target") + 1] == host.id
        assert words[words.index("--region") + 1] == "us-east-1"
        assert "AWS-StartSSHSession" in words and "portNumber=%p" in words


def test_a_rehearsal_swaps_only_the_proxy_command() -> None:
    real = ssh_path("ssm", "ubuntu", "i-0abc", "203.0.113.7", "us-east-1", "/var/lib/quintas-crm/host-ready")
    local = ssh_path(
        "ssm", "ubuntu", "i-0abc", "203.0.113.7", "us-east-1", "/var/lib/quintas-crm/host-ready",
        proxy_command="nc 127.0.0.1 2222",
    )  # fmt: skip
    differ = [(a, b) for a, b in zip(real.options, local.options, strict=True) if a != b]
    assert differ == [(real.options[1], "ProxyCommand=nc 127.0.0.1 2222")]
    assert real.options[1].startswith("ProxyCommand=aws ssm start-session")
    assert local.host == real.host == "ssh://ubuntu@i-0abc"
    assert "session-manager-plugin" not in local.ready_command  # the stand-in proxy needs no SSM plugin


def test_a_preview_does_not_ping_the_engine_but_an_update_does(containers_staging: engine.Run) -> None:
    # Provider inputs reach the engine as strings, as the CLI passes them.
    assert provider_inputs(containers_staging)["disableDockerDaemonCheck"] == "false"
    preview = simulate("staging", containers_program(preview=True))
    assert provider_inputs(preview)["disableDockerDaemonCheck"] == "true"


# ----------------------------------------------------------------- the local checks, in a real shell


@pytest.fixture
def machine(tmp_path: Path) -> Path:
    """A HOME with the deploy key and a bin/ with stand-ins for ssh, aws and the SSM plugin."""
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh" / "quintas-crm-deploy").write_text("key\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tool(bin_dir, "ssh", f'printf "%s\\n" "$@" > {tmp_path}/ssh-args; echo 28.5.2')
    tool(bin_dir, "aws", "exit 0")
    tool(bin_dir, "session-manager-plugin", "exit 0")
    return tmp_path


def tool(bin_dir: Path, name: str, body: str) -> None:
    (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
    (bin_dir / name).chmod(0o755)


def ready(home: Path) -> subprocess.CompletedProcess[str]:
    command = ssh_path("ssm", "ubuntu", "i-0abc", "203.0.113.7", "us-east-1", "/m").ready_command
    env = {"HOME": str(home), "PATH": str(home / "bin")}
    return subprocess.run(["/bin/sh", "-c", command], env=env, capture_output=True, text=True, check=False)


def test_host_ready_connects_once_everything_is_in_place(machine: Path) -> None:
    result = ready(machine)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "28.5.2"
    args = (machine / "ssh-args").read_text().splitlines()
    assert "ControlMaster=auto" in args and args[-2] == "ubuntu@i-0abc"


@pytest.mark.parametrize(
    ("missing", "fix"),
    [
        ("bin/session-manager-plugin", "session-manager-plugin is not installed"),
        ("bin/aws", "the aws CLI is not installed"),
        (".ssh/quintas-crm-deploy", "no deploy key at ~/.ssh/quintas-crm-deploy; in CI set the environment secret"),
    ],
)
def test_host_ready_names_the_missing_piece_in_one_line(machine: Path, missing: str, fix: str) -> None:
    (machine / missing).unlink()
    result = ready(machine)
    assert result.returncode == 1
    assert result.stderr.startswith(f"host-ready: {fix}") and result.stderr.count("\n") == 1
    assert not (machine / "ssh-args").exists()  # nothing connects before the checks pass


def test_host_ready_explains_a_path_that_does_not_open(machine: Path) -> None:
    tool(machine / "bin", "ssh", "echo 'An error occurred (AccessDeniedException)' >&2; exit 255")
    result = ready(machine)
    assert result.returncode == 255
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("host-ready: cannot open the SSH path to ubuntu@i-0abc")
    assert "ssm:StartSession on i-0abc" in last and "operatorPublicKey" in last


def test_host_ready_passes_on_a_failure_of_the_remote_check_unchanged(machine: Path) -> None:
    tool(machine / "bin", "ssh", "echo 'cloud-init failed (1)' >&2; exit 1")
    result = ready(machine)
    assert result.returncode == 1 and "cannot open the SSH path" not in result.stderr
