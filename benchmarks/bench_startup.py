"""Start-up time of `atlas --help`, `atlas --version` and `atlas plans list` beside `python -c pass`.

    python benchmarks/bench_startup.py [--runs 20]

Prints the best and the median wall time of each command over the runs. The best is the figure
to compare with the 100 ms budget: it is the least disturbed by other work on the machine.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "python -c 'import typer'": [sys.executable, "-c", "import typer"],
    "atlas --version": [sys.executable, "-m", "atlas_cli", "--version"],
    "atlas --help": [sys.executable, "-m", "atlas_cli", "--help"],
    "atlas usage --help": [sys.executable, "-m", "atlas_cli", "usage", "--help"],
    "atlas plans list --json": [sys.executable, "-m", "atlas_cli", "plans", "list", "--json"],
}


def timings(argv: list[str], runs: int) -> list[float]:
    found = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        found.append((time.perf_counter() - start) * 1000)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    base = min(timings(COMMANDS["python -c pass"], args.runs))
    print(f"{'command':<28} {'best ms':>8} {'median ms':>10} {'over python':>12}")
    for name, argv in COMMANDS.items():
        found = timings(argv, args.runs)
        best = min(found)
        print(f"{name:<28} {best:8.1f} {statistics.median(found):10.1f} {best - base:+11.1f}")


if __name__ == "__main__":
    main()
