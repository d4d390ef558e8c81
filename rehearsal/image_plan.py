"""What the rehearsal builds: for each image reference a stack's Compose render uses,
its stand-in (rehearsal/images/<name>/Dockerfile) or the project's own Dockerfile, in
build order, and the versions and configuration the Dockerfiles declare. Plans only:
rehearsal/images.py builds.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rehearsal.stand_ins import CPU_SHARES, NOT_REHEARSED, STAND_INS

ROOT = Path(__file__).resolve().parent.parent
IMAGES_DIR = ROOT / "rehearsal" / "images"
POSTGRES_DOCKERFILE = ROOT / "services" / "postgres" / "Dockerfile"
REQUIREMENTS_DEV = ROOT / "requirements-dev.txt"


class ImageError(Exception):
    """A stand-in cannot be planned or built; the message is one line.

    After a build, `results` holds what was finished (reference -> result), as build_all returns.
    """

    results: dict[str, dict[str, Any]] = {}  # replaced per instance, never mutated


@dataclass(frozen=True)
class Planned:
    ref: str  # the image reference the stack uses
    context: Path  # the directory with the Dockerfile
    stand_in_for: str
    built_from: str
    build_args: tuple[tuple[str, str], ...] = field(default=())
    cpu_shares: int | None = None  # the build's CPU weight (default 1024); not part of the image

    @property
    def dockerfile(self) -> Path:
        return self.context / "Dockerfile"


def repository(ref: str) -> str:
    """`redis:7.4.2-alpine` -> `redis`; a registry host with a port keeps its colon."""
    name = ref.split("@", 1)[0]
    head, sep, tail = name.rpartition(":")
    return head if sep and "/" not in tail else name


def dockerfile_froms(dockerfile: Path) -> list[str]:
    """The images a Dockerfile builds FROM (not its own earlier stages)."""
    froms: list[str] = []
    stages: set[str] = set()
    for line in dockerfile.read_text().splitlines():
        match = re.match(r"\s*FROM\s+(\S+)(?:\s+AS\s+(\S+))?", line, re.IGNORECASE)
        if match:
            if match.group(1) not in stages:
                froms.append(match.group(1))
            if match.group(2):
                stages.add(match.group(2))
    return froms


VERSION_LABEL = "org.opencontainers.image.version"
# Instructions that only change the image's configuration: `docker commit --change` takes them.
CONFIG_ONLY = frozenset({"ENV", "LABEL", "USER", "WORKDIR", "VOLUME", "EXPOSE", "ENTRYPOINT", "CMD"})


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(KEYWORD, whole instruction) per instruction; comments dropped, continuation lines joined."""
    lines = [ln for ln in dockerfile.read_text().splitlines() if not ln.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    return [(ln.split(None, 1)[0].upper(), ln.strip()) for ln in joined.splitlines() if ln.strip()]


def split_config(dockerfile: Path) -> tuple[str, list[str]]:
    """The Dockerfile up to its last filesystem step, and the configuration-only instructions after it.

    On the vfs storage driver the classic builder copies the whole image for every step, even
    for ENV or CMD; the builder applies the trailing configuration in one `docker commit`.
    """
    steps = instructions(dockerfile)
    last = max(i for i, (keyword, _) in enumerate(steps) if keyword not in CONFIG_ONLY)
    if last == len(steps) - 1:
        return dockerfile.read_text(), []  # nothing to move: the Dockerfile as it is
    head = "\n".join(text for _, text in steps[: last + 1]) + "\n"
    return head, [text for _, text in steps[last + 1 :]]


def declared_version(planned: Planned) -> str:
    """The stand-in's version as its Dockerfile labels it (build arguments substituted), else the tag."""
    for keyword, text in instructions(planned.dockerfile):
        match = re.search(rf'{VERSION_LABEL}="([^"]*)"', text) if keyword == "LABEL" else None
        if match:
            return substitute(match.group(1), planned.build_args)
    return planned.ref.rpartition(":")[2]


def substitute(text: str, build_args: Iterable[tuple[str, str]]) -> str:
    for key, value in build_args:
        text = text.replace("${" + key + "}", value)
    return text


def pinned_version(requirements: Path, package: str) -> str:
    match = re.search(rf"^{re.escape(package)}(?:\[[^\]]*\])?==(\S+)", requirements.read_text(), re.MULTILINE)
    if not match:
        raise ImageError(f"{requirements.name} pins no version of {package}")
    return match.group(1)


def plan(document: Mapping[str, Any], postgres_base: str, moto_version: str) -> tuple[list[Planned], dict[str, str]]:
    """What to build for a rendered Compose document, stand-ins before the images built FROM them.

    Returns the builds and the references with no stand-in (reference -> reason).
    Raises ImageError for a reference that is neither.
    """
    own: dict[str, Planned] = {}
    refs = [postgres_base, f"motoserver/moto:{moto_version}"]
    for service in document["services"].values():
        if "build" in service:  # the project's own image, from its real Dockerfile
            context = (ROOT / service["build"]["context"]).resolve()
            built_from = f"{context.relative_to(ROOT)}/Dockerfile, unchanged"
            own.setdefault(service["image"], Planned(service["image"], context, "the project's image", built_from))
        else:
            refs.append(service["image"])
    stand_ins: dict[str, Planned] = {}
    skipped: dict[str, str] = {}
    for ref in refs:
        repo = repository(ref)
        if repo in STAND_INS:
            entry = STAND_INS[repo]
            args = (("VERSION", moto_version),) if repo == "motoserver/moto" else ()
            stand_ins.setdefault(
                ref, Planned(ref, IMAGES_DIR / entry.directory, ref, entry.built_from, args, CPU_SHARES.get(repo))
            )
        elif repo in NOT_REHEARSED:
            skipped[ref] = NOT_REHEARSED[repo]
        else:
            raise ImageError(f"{ref}: no stand-in under rehearsal/images and not listed in NOT_REHEARSED")
    order = list(STAND_INS)
    ranked = sorted(stand_ins.values(), key=lambda p: order.index(repository(p.ref)))
    return [*ranked, *own.values()], skipped


def stack_plan(stack: str) -> tuple[list[Planned], dict[str, str]]:
    """The builds for a stack, read from its `ops compose` render and the project's pins."""
    from ops.local.compose import render  # the simulated engine: imported only when needed
    from ops.sim.engine import stack_config

    document = render(stack_config(stack))
    postgres_base = dockerfile_froms(POSTGRES_DOCKERFILE)[0]
    return plan(document, postgres_base, pinned_version(REQUIREMENTS_DEV, "moto"))
