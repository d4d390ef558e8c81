"""Every verb and sub-verb of `python -m ops` says in its --help what it does and shows examples that parse."""

from __future__ import annotations

import argparse
import shlex

import pytest

from ops.__main__ import VERBS, build_parser

PROG = "python -m ops"


def parsers() -> list[tuple[list[str], argparse.ArgumentParser]]:
    """The top parser and each verb's and sub-verb's parser, with the words that select it."""
    found: list[tuple[list[str], argparse.ArgumentParser]] = []

    def walk(path: list[str], parser: argparse.ArgumentParser) -> None:
        found.append((path, parser))
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk([*path, name], sub)

    walk([], build_parser())
    return found


def examples(description: str) -> list[str]:
    """The command lines under `Examples:`, continuation lines (ending in a backslash) joined."""
    block = description.split("Examples:\n", 1)[1] if "Examples:\n" in description else ""
    lines: list[str] = []
    for line in block.splitlines():
        if not line.startswith("  "):
            break
        if lines and lines[-1].endswith("\\"):
            lines[-1] = lines[-1][:-1] + line.strip()
        else:
            lines.append(line.strip())
    return lines


def test_every_verb_is_walked() -> None:
    walked = {" ".join(path) for path, _ in parsers()}
    assert set(VERBS) <= walked
    assert {"backup verify", "backup restore"} <= walked


@pytest.mark.parametrize("path", [" ".join(p) for p, _ in parsers()], ids=lambda p: p or "(top)")
def test_help_has_a_description_and_examples_that_parse(path: str) -> None:
    parser = dict((" ".join(p), parser) for p, parser in parsers())[path]
    description = (parser.description or "").strip()
    assert len(description.split()) >= 8, f"{path or PROG}: no description"
    shown = [line for line in examples(description) if line.startswith(PROG)]
    assert shown, f"{path or PROG}: no `Examples:` with a `{PROG}` command line"
    for line in shown:
        words = shlex.split(line.split(" > ")[0].split(" >> ")[0])[3:]
        assert words[: len(path.split())] == path.split() or not path, line
        try:
            build_parser().parse_args(words)
        except SystemExit as exc:  # --help exits 0; a malformed example exits 2
            assert exc.code == 0, line
