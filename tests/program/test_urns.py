"""Both stacks' resource URNs are the ones held in tests/program/urns/.

A URN is how the engine knows a resource between runs: a changed type token, name
or parent makes `pulumi up` delete the resource and create a new one (a new
volume, a new generated password). A refactor must leave this list unchanged; a
change that adds or renames resources on purpose updates the list in the same
commit, and the diff shows what the engine would replace.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from tests.conftest import STACKS, shipped

URNS = Path(__file__).parent / "urns"


@pytest.mark.parametrize("stack", STACKS)
def test_urns_are_the_held_list(stack: str) -> None:
    held = (URNS / f"{stack}.txt").read_text().splitlines()
    planned = sorted(r.urn for r in shipped(stack).resources)
    diff = "\n".join(difflib.unified_diff(held, planned, "held", "planned", lineterm="", n=0))
    assert planned == held, f"{stack}: URNs changed (the engine would replace these):\n{diff}"
