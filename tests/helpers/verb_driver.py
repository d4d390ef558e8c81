"""Runs `python -m ops` command lines in one process and reports what each printed.

`python -m tests.helpers.verb_driver < cases.json` reads {"root": DIR or null,
"cases": [[arg, ...], ...]} and prints one JSON report per case: exit code, stdout,
stderr, and the exception that escaped, if any. Output is captured at the file
descriptors, so what a verb writes to any stream is seen; one process runs every
case, so the suite does not pay the SDK imports once per case.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any


def run_case(argv: list[str]) -> dict[str, Any]:
    from ops.__main__ import main

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        saved = os.dup(1), os.dup(2)
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        escaped = None
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse's usage errors
            code = exc.code if isinstance(exc.code, int) else 2
        except BaseException:  # noqa: BLE001 an escaped exception is what this driver reports
            code, escaped = -1, traceback.format_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
        out.seek(0)
        err.seek(0)
        return {
            "argv": argv,
            "code": code,
            "out": out.read().decode(errors="replace"),
            "err": err.read().decode(errors="replace"),
            "escaped": escaped,
        }


if __name__ == "__main__":
    request = json.load(sys.stdin)
    if request.get("root"):
        import ops.cli.backup
        import ops.sim.engine

        ops.sim.engine.ROOT = ops.cli.backup.ROOT = Path(request["root"])
    reports = [run_case(argv) for argv in request["cases"]]
    sys.stdout.write(json.dumps(reports))
