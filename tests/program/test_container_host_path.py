"""How the deployment reaches the host's Docker engine: SSH over SSM, readiness first, ECR login."""

from __future__ import annotations

import json
import shlex
from typing import Any

import pytest

from ops.sim import engine
from tests.conftest import simulate
from tests.helpers.stand_in import containers_program
from tests.program.test_containers import CONTAINER, IMAGE


def ssh_argv(ready_command: str) -> list[str]:
    """The ssh invocation inside the host-ready command line (after its local checks)."""
    words = shlex.split(ready_command)
    start = max(i for i, w in enumerate(words) if w == "ssh")
    return words[start : words.index("||", start)]


def provider_inputs(run: engine.Run) -> dict[str, Any]:
    return run.one("pulumi:providers:docker", "host").inputs


# ----------------------------------------------------------------- the Docker provider


def test_docker_provider_reaches_the_host_over_ssh_through_ssm_by_default(containers_staging: engine.Run) -> None:
    host = containers_staging.one("aws:ec2/instance:Instance", "host")
    inputs = provider_inputs(containers_staging)
    assert inputs["host"] == f"ssh://ubuntu@{host.id}"
    opts = json.loads(inputs["sshOpts"])
    proxy = next(o for o in opts if o.startswith("ProxyCommand="))
    assert proxy == (
        "ProxyCommand=aws ssm start-session --document-name AWS-StartSSHSession "
        f"--parameters portNumber=%p --target {host.id} --region us-east-1"
    )


def test_direct_mode_connects_straight_to_the_public_ip() -> None:
    run = simulate("staging", containers_program(), sshMode="direct", adminCidrs=["203.0.113.10/32"])
    eip = run.one("aws:ec2/eip:Eip", "host")
    inputs = provider_inputs(run)
    assert inputs["host"] == f"ssh://ubuntu@{eip.outputs['publicIp']}"
    assert not any(o.startswith("ProxyCommand=") for o in json.loads(inputs["sshOpts"]))
    ready = run.one("command:local:Command", "host-ready")
    assert f"ubuntu@{eip.outputs['publicIp']}" in ssh_argv(ready.inputs["create"])
    assert "session-manager-plugin" not in ready.inputs["create"]


def test_nothing_touches_docker_before_cloud_init_finished(containers_staging: engine.Run) -> None:
    run = containers_staging
    ready = run.one("command:local:Command", "host-ready")
    host = run.one("aws:ec2/instance:Instance", "host")
    argv = ssh_argv(ready.inputs["create"])
    assert argv[0] == "ssh" and argv[-2] == f"ubuntu@{host.id}"
    assert argv[-1].startswith("cloud-init status --wait")
    assert "test -f /var/lib/quintas-crm/host-ready" in argv[-1]
    assert "docker version" in argv[-1]
    assert host.urn in ready.depends_on
    assert ready.inputs["triggers"] == [host.id]  # a replaced host is waited for again
    provider = run.one("pulumi:providers:docker", "host")
    assert ready.urn in provider.depends_on
    for res in run.of_type(CONTAINER) + run.of_type(IMAGE) + run.of_type("docker:index/network:Network"):
        assert res.provider and res.provider.startswith(provider.urn), res.name


def test_ecr_pulls_authenticate_with_a_secret_token(containers_staging: engine.Run) -> None:
    auth = provider_inputs(containers_staging)["registryAuth"]
    assert isinstance(auth, engine.Secret)
    entry = json.loads(auth.value)[0] if isinstance(auth.value, str) else auth.value[0]
    assert entry["address"] == "123456789012.dkr.ecr.us-east-1.amazonaws.com"
    assert entry["username"] == "AWS"


# ----------------------------------------------------------------- ECR


@pytest.mark.slow  # drives a real tool or process
def test_the_readiness_script_runs_in_a_real_shell(tmp_path: Any) -> None:
    """The remote script, run by sh with stand-in cloud-init and docker commands, waits, checks, reports."""
    import os
    import subprocess

    from components.workload.ssh_path import ready_script

    def run(cloud_init_rc: int, marker: str) -> subprocess.CompletedProcess[str]:
        bin_dir = tmp_path / f"bin{cloud_init_rc}"
        bin_dir.mkdir(exist_ok=True)
        (bin_dir / "cloud-init").write_text(f"#!/bin/sh\nexit {cloud_init_rc}\n")
        (bin_dir / "docker").write_text("#!/bin/sh\necho 27.3.1\n")
        for tool in ("cloud-init", "docker"):
            (bin_dir / tool).chmod(0o755)
        env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
        return subprocess.run(["sh", "-c", ready_script(marker)], env=env, capture_output=True, text=True)

    marker = tmp_path / "host-ready"
    marker.write_text("")
    assert run(0, str(marker)).stdout.strip() == "27.3.1"
    assert run(2, str(marker)).returncode == 0  # done with recoverable errors
    failed = run(1, str(marker))
    assert failed.returncode == 1 and "cloud-init failed (1)" in failed.stderr
    missing = run(0, str(tmp_path / "absent"))
    assert missing.returncode == 1 and "host not ready" in missing.stderr


def test_a_service_without_a_log_group_is_refused_before_anything_touches_the_host() -> None:
    from components.config import StackConfig
    from components.workload.catalogue import CatalogueInputs, catalogue
    from components.workload.containers import ContainersArgs, ContainerStack, HostConnection

    def program() -> None:
        config = StackConfig.load()
        stack = ContainerStack(
            "containers",
            ContainersArgs(stack=config.stack, region=config.region, architecture="x86_64", tags={}),
        )
        inputs = CatalogueInputs(
            repositories=stack.repositories,
            uploads_bucket="quintas-crm-staging-uploads",
            backups_bucket="quintas-crm-staging-backups",
            secrets=stack.secrets,
        )
        connection = HostConnection(instance_id="i-0123456789abcdef0", public_ip="3.91.22.17")
        stack.deploy(catalogue(config, inputs), connection, {"traefik": "/quintas-crm/staging/traefik"})

    with pytest.raises(Exception, match=r"frontend: no CloudWatch log group; the platform creates") as err:
        simulate("staging", program)
    created = engine.registered_before(err.value)
    # The repositories and secrets the catalogue refers to come first; nothing reaches the host.
    assert not [r.type for r in created if r.type.split(":")[0] in ("docker", "command", "pulumi")]
    assert {r.type for r in created if r.custom} == {
        "aws:ecr/repository:Repository",
        "aws:ecr/lifecyclePolicy:LifecyclePolicy",
        "random:index/randomPassword:RandomPassword",
    }
