"""Wall time of `python -m ops plan --stack S` for each shipped stack: median of 5 runs.

Each run is a fresh interpreter, as an operator or CI would start it, so the
figure includes importing the provider SDKs. One uncounted run first lets Python
write the project's bytecode caches, as any first run on an operator's machine
does (even where PYTHONDONTWRITEBYTECODE is set in the calling shell).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 5


def plan(stack: str, env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "ops", "plan", "--stack", stack], cwd=ROOT, env=env, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"plan --stack {stack} exited {result.returncode}:\n{result.stderr}")
    return elapsed


def measure(stack: str) -> list[float]:
    plan(stack, env={k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"})
    return [plan(stack) for _ in range(RUNS)]


def main() -> None:
    print(
        f"ops plan wall time, {RUNS} runs per stack after one warm-up, fresh interpreter each"
        f" (python {sys.version.split()[0]}, {os.cpu_count()} cpus, load {os.getloadavg()[0]:.2f})"
    )
    for stack in ("staging", "prod"):
        times = measure(stack)
        print(
            f"  {stack:8s} median {statistics.median(times):.2f} s"
            f"  min {min(times):.2f} s  max {max(times):.2f} s  runs: {' '.join(f'{t:.2f}' for t in times)}"
        )


if __name__ == "__main__":
    main()
