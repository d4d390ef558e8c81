"""Wall time of `python -m ops plan --stack S` for each shipped stack: median of 5 runs.

Each run is a fresh interpreter, as an operator or CI would start it, so the
figure includes importing the provider SDKs.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 5


def measure(stack: str) -> list[float]:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "ops", "plan", "--stack", stack], cwd=ROOT, capture_output=True, text=True
        )
        times.append(time.perf_counter() - start)
        if result.returncode != 0:
            sys.exit(f"plan --stack {stack} exited {result.returncode}:\n{result.stderr}")
    return times


def main() -> None:
    print(f"ops plan wall time, {RUNS} runs per stack, fresh interpreter each (python {sys.version.split()[0]})")
    for stack in ("staging", "prod"):
        times = measure(stack)
        print(
            f"  {stack:8s} median {statistics.median(times):.2f} s"
            f"  min {min(times):.2f} s  max {max(times):.2f} s  runs: {' '.join(f'{t:.2f}' for t in times)}"
        )


if __name__ == "__main__":
    main()
