"""What the verbs that generate a committed document share: table cells, and print or `--check`."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from ops.sim import engine


def table_cell(text: str) -> str:
    """`text` as one Markdown table cell: pipes escaped, on one line."""
    return text.replace("|", "\\|").replace("\n", " ")


def print_or_check(text: str, doc_path: Path, command: str, check: bool, out: TextIO, err: TextIO, what: str) -> int:
    """Print the generated `text`; with `check`, compare it with the committed file instead.

    `command` regenerates the file; `what` says what a current file holds (e.g. "53 rules").
    """
    if not check:
        out.write(text)
        return 0
    where = doc_path.relative_to(engine.ROOT)
    current = doc_path.read_text() if doc_path.is_file() else ""
    if current != text:
        err.write(f"error: {where} is out of date; regenerate it with `{command}`\n")
        return 1
    out.write(f"{where} is current ({what})\n")
    return 0
