"""Start-up time of atlas's commands beside `python -c pass` and beside the import floor.

    python benchmarks/bench_startup.py [--runs 20] [--database-url postgresql://...]

Prints the best and the median wall time of each command over the runs. The best is the figure
to compare with a budget: it is the least disturbed by other work on the machine.

The import floor of a database command is `python -c "import typer, sqlalchemy,
pydantic_settings"`: the libraries such a command cannot do without. The database commands run
against a throwaway SQLite file made with `atlas db init` and one workspace (and, with
--database-url, against that PostgreSQL database too, which must already hold the Atlas tables
and a workspace `acme`); their "x floor" column is best over the floor's best (budget: 1.1x), "cpu x floor" the same
for CPU time (user + system of the child), which a busy machine disturbs far less than wall time, and "cpu med x
floor" the median CPU time over the floor's median CPU time.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ATLAS = [sys.executable, "-m", "atlas_cli"]
FLOOR = "import floor"
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "python -c 'import typer'": [sys.executable, "-c", "import typer"],
    FLOOR: [sys.executable, "-c", "import typer, sqlalchemy, pydantic_settings"],
    "atlas --version": [*ATLAS, "--version"],
    "atlas --help": [*ATLAS, "--help"],
    "atlas usage --help": [*ATLAS, "usage", "--help"],
    "atlas plans list --json": [*ATLAS, "plans", "list", "--json"],
}
DATABASE_COMMANDS = {
    "workspace list --json": ["workspace", "list", "--json"],
    "usage show -w acme --json": ["usage", "show", "-w", "acme", "--json"],
    "billing check -w acme": ["billing", "check", "-w", "acme"],
}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def bytecode_env(directory: str) -> dict[str, str]:
    """The environment of every timed command: Python may write bytecode (into `directory`, not the
    checkout), as an installed atlas has its modules compiled; without it each run would compile
    atlas's own modules from source while the libraries of the floor come compiled."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "PYTHONDONTWRITEBYTECODE")}
    env["PYTHONPYCACHEPREFIX"] = str(Path(directory) / "pycache")
    return env


def timings(argv: list[str], runs: int, env: dict[str, str] | None = None) -> tuple[list[float], list[float]]:
    """Wall and CPU (user + system) ms of each run, after one untimed run that writes the bytecode.
    CPU time is what a busy machine disturbs least."""
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, env=env)
    wall, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), _children_cpu()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, env=env)
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((_children_cpu() - start_cpu) * 1000)
    return wall, cpu


def sqlite_database(directory: str) -> str:
    """A SQLite file with atlas's tables and the workspace acme, made by atlas itself."""
    url = f"sqlite:///{Path(directory) / 'atlas.db'}"
    subprocess.run([*ATLAS, "--database-url", url, "db", "init"], check=True, stdout=subprocess.DEVNULL)
    import sqlite3

    with sqlite3.connect(url.split(":///", 1)[1]) as conn:
        conn.execute(
            'INSERT INTO organization (id, name, slug, "createdAt", plan_tier) '
            "VALUES ('acme', 'Acme', 'acme', '2026-01-01 00:00:00.000000', 'team')"
        )
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--database-url", help="also time the database commands on this PostgreSQL database")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        env = bytecode_env(directory)
        base = min(timings(COMMANDS["python -c pass"], args.runs, env)[0])
        floor = floor_cpu = floor_cpu_median = 0.0
        print(
            f"{'command':<44} {'best ms':>8} {'median ms':>10} {'over python':>12} {'x floor':>8} "
            f"{'cpu best ms':>12} {'cpu x floor':>12} {'cpu med ms':>11} {'cpu med x floor':>16}"
        )
        for name, argv in COMMANDS.items():
            found, cpu = timings(argv, args.runs, env)
            best = min(found)
            if name == FLOOR:
                floor, floor_cpu, floor_cpu_median = best, min(cpu), statistics.median(cpu)
            print(
                f"{name:<44} {best:8.1f} {statistics.median(found):10.1f} {best - base:+11.1f} {'':>8} "
                f"{min(cpu):12.1f} {'':>12} {statistics.median(cpu):11.1f}"
            )
        urls = {"sqlite": sqlite_database(directory)}
        if args.database_url:
            urls["postgresql"] = args.database_url
        for engine, url in urls.items():
            for name, argv in DATABASE_COMMANDS.items():
                found, cpu = timings([*ATLAS, "--database-url", url, *argv], args.runs, env)
                best = min(found)
                label = f"atlas {name} ({engine})"
                print(
                    f"{label:<44} {best:8.1f} {statistics.median(found):10.1f} {best - base:+11.1f} "
                    f"{best / floor:8.2f} {min(cpu):12.1f} {min(cpu) / floor_cpu:12.2f} "
                    f"{statistics.median(cpu):11.1f} {statistics.median(cpu) / floor_cpu_median:16.2f}"
                )


if __name__ == "__main__":
    main()
