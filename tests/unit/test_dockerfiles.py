"""The Dockerfiles kept here, checked by parsing (no Docker engine on the build machines).

Every stage's base image is pinned; the frontend and Directus images run as a non-root
user, expose their port and carry a health check on the path the ALB checks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILES = sorted((ROOT / "services").glob("*/Dockerfile"))


@dataclass
class Stage:
    image: str
    alias: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def values(self, keyword: str) -> list[str]:
        return [arg for kw, arg in self.instructions if kw == keyword]


def parse(path: Path) -> list[Stage]:
    """Stages with their instructions; continuation lines joined, comments dropped."""
    text = re.sub(
        r"\\\n", " ", "\n".join(ln for ln in path.read_text().splitlines() if not ln.lstrip().startswith("#"))
    )
    stages: list[Stage] = []
    for line in filter(None, (ln.strip() for ln in text.splitlines())):
        keyword, _, arg = line.partition(" ")
        keyword, arg = keyword.upper(), arg.strip()
        if keyword == "FROM":
            m = re.fullmatch(r"(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?", arg, re.IGNORECASE)
            assert m, f"{path}: cannot read FROM {arg}"
            stages.append(Stage(m.group(1), m.group(2)))
        else:
            assert stages, f"{path}: {keyword} before the first FROM"
            stages[-1].instructions.append((keyword, arg))
    return stages


def is_pinned(image: str) -> bool:
    if "@sha256:" in image:
        return True
    name, _, tag = image.rpartition(":")
    return bool(name) and "/" not in tag and tag not in ("", "latest") and bool(re.search(r"\d", tag))


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.parent.name)
def test_every_stage_starts_from_a_pinned_image_or_an_earlier_stage(path: Path) -> None:
    stages = parse(path)
    aliases: set[str] = set()
    for stage in stages:
        assert stage.image in aliases or is_pinned(stage.image), f"{path.parent.name}: {stage.image} is not pinned"
        if stage.alias:
            aliases.add(stage.alias)


def test_pin_check_rejects_floating_tags() -> None:
    assert not is_pinned("node") and not is_pinned("node:latest") and not is_pinned("node:alpine")
    assert is_pinned("node:26-alpine3.23") and is_pinned("directus/directus:12.4.1")


@pytest.mark.parametrize("service", ["frontend"])  # Directus runs the official image
def test_final_stage_runs_as_a_non_root_user(service: str) -> None:
    final = parse(ROOT / "services" / service / "Dockerfile")[-1]
    users = final.values("USER")
    assert users and users[-1].split(":")[0] not in ("root", "0")


def test_frontend_is_a_multi_stage_next_standalone_build_on_node_lts() -> None:
    stages = parse(ROOT / "services/frontend/Dockerfile")
    assert len(stages) >= 3
    nodes = {s.image for s in stages if s.image.startswith("node:")}
    assert nodes == {"node:26-alpine3.23"}, "one Node line in every stage: 26 is the Active LTS in November 2026"
    final = stages[-1]
    copies = " ".join(final.values("COPY"))
    assert "/app/.next/standalone" in copies and "/app/.next/static" in copies
    assert "node_modules" not in copies, "the standalone output carries its own traced node_modules"
    assert final.values("CMD") == ['["node", "server.js"]']
    assert final.values("EXPOSE") == ["3000"]
    assert "http://127.0.0.1:3000/api/health" in final.values("HEALTHCHECK")[0]
    assert "NODE_ENV=production" in " ".join(final.values("ENV"))
