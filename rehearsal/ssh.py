"""The deploy path rehearsed: Docker over SSH as the program gives it to the provider, through a local sshd.

A throwaway user on an `sshd` bound to 127.0.0.1 stands in for the host's
`ubuntu` account, in front of this machine's Docker engine. The address, the
ssh options and the readiness command are exactly `components.workload.ssh_path.ssh_path`'s
for ssm mode, with the deploy key at a temporary path. Even the SSM ProxyCommand
is unchanged: what stands in is the `aws` command it calls, a relay
(SSM_STAND_IN) that checks it was asked for an SSH session to the stack's
instance in the stack's region and then carries the bytes to the local sshd, as
the Session Manager plugin carries them to the instance's port 22. A
`session-manager-plugin` that does nothing satisfies the readiness command's
check for it, and `cloud-init` on the far side reports first boot done. Docker
operations run with `DOCKER_HOST=ssh://...`: the Docker CLI's ssh connection
helper (`docker system dial-stdio` on the far side), which the provider uses.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from components.workload.ssh_path import SshPath, ssh_path
from rehearsal.checks import CheckFailed
from rehearsal.stack import RehearsalError, require

USER = "quintas-rehearsal"
INSTANCE = "i-0123456789abcdef0"
MARKER = "host-ready"  # in the run's work dir: the readiness command waits for it

SSM_STAND_IN = r'''#!/usr/bin/env python3
"""Stand-in for `aws ssm start-session --document-name AWS-StartSSHSession ...` (rehearsal only)."""
import os, socket, sys, threading
args = sys.argv[1:]
want = {"--document-name": "AWS-StartSSHSession", "--target": os.environ["REHEARSAL_INSTANCE"],
        "--region": os.environ["REHEARSAL_REGION"]}
pairs = dict(zip(args[2::2], args[3::2]))
if args[:2] != ["ssm", "start-session"] or any(pairs.get(k) != v for k, v in want.items()) \
        or not pairs.get("--parameters", "").startswith("portNumber="):
    sys.exit(f"aws stand-in: not an SSH session to {want}: {args}")
sock = socket.create_connection(("127.0.0.1", int(os.environ["REHEARSAL_SSHD_PORT"])))
def pump():
    while data := os.read(0, 65536):
        sock.sendall(data)
    sock.shutdown(socket.SHUT_WR)
threading.Thread(target=pump, daemon=True).start()
while data := sock.recv(65536):
    os.write(1, data)
'''

CLOUD_INIT_STAND_IN = "#!/bin/sh\n# Stand-in: first boot is over on this machine.\necho 'status: done'\n"

# The operations of one run, each a new connection of the Docker CLI's ssh helper.
OPERATIONS = [
    ["version"], ["info"], ["ps", "-a"], ["image", "ls"], ["network", "ls"], ["volume", "ls"],
    ["volume", "create", "quintas-rehearsal-ssh"], ["volume", "inspect", "quintas-rehearsal-ssh"],
    ["network", "create", "quintas-rehearsal-ssh"], ["network", "inspect", "quintas-rehearsal-ssh"],
    ["create", "--pull", "never", "--name", "quintas-rehearsal-ssh", "--network", "quintas-rehearsal-ssh",
     "-v", "quintas-rehearsal-ssh:/data", "{image}", "sleep", "60"],
    ["start", "quintas-rehearsal-ssh"], ["inspect", "quintas-rehearsal-ssh"],
    ["exec", "quintas-rehearsal-ssh", "true"], ["logs", "quintas-rehearsal-ssh"],
    ["stop", "-t", "1", "quintas-rehearsal-ssh"], ["rm", "-v", "quintas-rehearsal-ssh"],
    ["network", "rm", "quintas-rehearsal-ssh"], ["volume", "rm", "quintas-rehearsal-ssh"],
    ["system", "df"], ["ps", "-a"],
]  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def local_host(region: str) -> Iterator[tuple[dict[str, str], Path, SshPath, Path]]:
    """A throwaway user behind a loopback sshd; yields the client environment, the sshd log, the SSH path and the work dir."""
    if os.geteuid() != 0:
        raise RehearsalError("the SSH rehearsal creates a throwaway user and starts sshd: run it as root")
    sshd = require("sshd", "apt-get install openssh-server")
    require("ssh", "apt-get install openssh-client")
    work = Path(tempfile.mkdtemp(prefix="quintas-ssh-"))
    os.chmod(work, 0o755)
    port, sshd_proc, env = _free_port(), None, None
    try:
        # `-p '*'`: no password, but not a locked account, which sshd refuses without PAM.
        subprocess.run(
            ["useradd", "-m", "-G", "docker", "-s", "/bin/sh", "-p", "*", USER], check=True, capture_output=True
        )
        env, path = _client(work, port, region)
        log = work / "sshd.log"
        sshd_proc = subprocess.Popen([sshd, "-D", "-e", "-f", str(_sshd_config(work, port)), "-E", str(log)])
        _wait_listening(port)
        yield env, log, path, work
    finally:
        for kind in ("container", "network", "volume"):  # what a failed sequence may leave
            subprocess.run(["docker", kind, "rm", "-fv" if kind == "container" else "--", "quintas-rehearsal-ssh"],
                           capture_output=True, check=False)  # fmt: skip
        # The shared connection's master and the sessions it holds open outlive sshd's listener:
        # end them, or the user cannot be removed.
        if env:
            target = f"{USER}@{INSTANCE}"
            subprocess.run(["ssh", "-O", "exit", target], env=env, capture_output=True, timeout=30, check=False)
        if sshd_proc:
            sshd_proc.terminate()
            sshd_proc.wait(timeout=10)
        subprocess.run(["pkill", "-KILL", "-u", USER], capture_output=True, check=False)
        time.sleep(0.5)
        subprocess.run(["userdel", "-r", USER], capture_output=True, check=False)
        shutil.rmtree(work, ignore_errors=True)


def _sshd_config(work: Path, port: int) -> Path:
    host_key = work / "host_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(host_key)], check=True)
    home = Path(f"/home/{USER}")
    (home / "bin").mkdir(exist_ok=True)
    stand_in = home / "bin/cloud-init"
    stand_in.write_text(CLOUD_INIT_STAND_IN)
    stand_in.chmod(0o755)
    Path("/run/sshd").mkdir(exist_ok=True)
    config = work / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {host_key}\nPidFile {work}/sshd.pid\n"
        f"AuthorizedKeysFile {work}/authorized_keys\nStrictModes no\nAllowUsers {USER}\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nLogLevel VERBOSE\n"
        f"SetEnv PATH={home}/bin:/usr/local/bin:/usr/bin:/bin\n"
    )
    return config


def _client(work: Path, port: int, region: str) -> tuple[dict[str, str], SshPath]:
    """The runner's side: the deploy key, known hosts, the stand-ins and the program's SSH path."""
    key = work / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    shutil.copy(f"{key}.pub", work / "authorized_keys")
    os.chmod(work / "authorized_keys", 0o644)
    path = ssh_path("ssm", USER, INSTANCE, "203.0.113.10", region, str(work / MARKER), key_file=str(key))
    bin_dir = work / "bin"
    bin_dir.mkdir()
    for name, text in (("aws", SSM_STAND_IN), ("session-manager-plugin", "#!/bin/sh\nexit 0\n")):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    # The Docker CLI's ssh helper takes no options: this `ssh` gives it the program's, as the
    # provider's ssh_opts do. The runner's known-hosts file is this run's, not root's.
    (work / "ssh_config").write_text(f"UserKnownHostsFile {work}/known_hosts\nBatchMode yes\n")
    ssh = bin_dir / "ssh"
    ssh.write_text(f'#!/bin/sh\nexec /usr/bin/ssh -F {work}/ssh_config {shlex.join(path.options)} "$@"\n')
    ssh.chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "REHEARSAL_INSTANCE": INSTANCE,
        "REHEARSAL_REGION": region,
        "REHEARSAL_SSHD_PORT": str(port),
        "DOCKER_HOST": path.host,
    }
    return env, path


def _wait_listening(port: int) -> None:
    for _ in range(50):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RehearsalError(f"sshd did not listen on 127.0.0.1:{port}")


def authentications(log: Path) -> int:
    return len(re.findall(rf"Accepted publickey for {USER}\b", log.read_text()))


def multiplexed(env: dict[str, str], log: Path, image: str) -> str:
    """At least 20 Docker operations over ssh://, one authentication between them."""
    for argv in OPERATIONS:
        cmd = ["docker", *(a.replace("{image}", image) for a in argv)]
        result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise CheckFailed(f"`{shlex.join(cmd)}` over ssh failed: {result.stderr.strip()[-300:]}")
    count = authentications(log)
    if count != 1:
        raise CheckFailed(f"{len(OPERATIONS)} Docker operations authenticated {count} times; one connection expected")
    return f"{len(OPERATIONS)} Docker operations over ssh:// through the SSM ProxyCommand, 1 authentication"


def host_ready(env: dict[str, str], path: SshPath, marker: Path) -> str:
    """The program's readiness command fails while the marker is missing and succeeds once it exists."""
    argv = ["sh", "-c", path.ready_command]
    before = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    if before.returncode == 0:
        raise CheckFailed("the readiness command succeeded before the ready marker existed")
    marker.write_text("ready\n")
    after = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    if after.returncode != 0:
        raise CheckFailed(f"the readiness command failed with the marker in place: {after.stderr.strip()[-300:]}")
    refused = before.stderr.strip().splitlines()[-1] if before.stderr.strip() else f"exit {before.returncode}"
    return f"refused without the marker ({refused}); ready with it, engine {after.stdout.strip()}"


def rehearse_ssh(region: str, image: str, check: Callable[[str, Callable[[], str]], None]) -> None:
    """host-ready first, as `pulumi up` does: it opens the connection every Docker operation then shares."""
    with local_host(region) as (env, log, path, work):
        check("host-ready", lambda: host_ready(env, path, work / MARKER))
        check("ssh-multiplexed", lambda: multiplexed(env, log, image))
        subprocess.run(
            ["ssh", "-O", "exit", path.host.removeprefix("ssh://")], env=env, capture_output=True, check=False
        )
