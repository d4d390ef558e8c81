"""Bad settings through a whole program run (issue 16): the real `__main__.py` on the simulated
engine with a stack file of its own, so the stack name and `secure:` values arrive as the CLI gives them."""

from __future__ import annotations

from pathlib import Path

import pytest

from components.config import ConfigError
from ops.sim import engine

ROOT = engine.ROOT
P = "quintas-crm-infra"


def _run(tmp_path: Path, stack: str, replace: tuple[str, str] = ("", "")) -> engine.Run:
    text = (ROOT / "Pulumi.staging.yaml").read_text()
    (tmp_path / f"Pulumi.{stack}.yaml").write_text(text.replace(*replace))
    return engine.run(stack, engine.main_program(ROOT), root=tmp_path)


def test_a_long_stack_name_is_a_config_error_before_any_resource(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        _run(tmp_path, "staging-mexico-city-1")  # 21 characters: the ALB name would be 33
    assert caught.value.keys == ["stack"]
    assert engine.registered_before(caught.value) == []


def test_a_secure_owner_is_refused_and_never_tags_a_resource(tmp_path: Path) -> None:
    secure = ("owner: platform-team", "owner:\n    secure: v1:c2VjcmV0LW93bmVy")
    with pytest.raises(ConfigError) as caught:
        _run(tmp_path, "staging", secure)
    assert caught.value.keys == [f"{P}:owner"]
    assert "simulated-secret-for" not in str(caught.value)
    assert engine.registered_before(caught.value) == []
