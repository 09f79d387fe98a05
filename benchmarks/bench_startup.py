"""Start-up time of atlas's commands beside `python -c pass` and beside the import floor.

    python benchmarks/bench_startup.py [--runs 20] [--database-url postgresql://...] [--checkout DIR]

Prints the best and the median wall time of each command over the runs. The best is the figure
to compare with a budget: it is the least disturbed by other work on the machine.

The import floor of a database command is `python -c "import typer, sqlalchemy,
pydantic_settings"`: the libraries such a command cannot do without. The database commands run
against a throwaway SQLite file made with `atlas db init` and one workspace (and, with
--database-url, against that PostgreSQL database too, which must already hold the Atlas tables
and a workspace `acme`); their "x floor" column is best over the floor's best (budget: 1.1x), "cpu x floor" the same
for CPU time (user + system of the child), which a busy machine disturbs far less than wall time, and "cpu med x
floor" the median CPU time over the floor's median CPU time. The runs of all the commands are
interleaved, and every command may write its bytecode (into a throwaway directory), as an
installed atlas has its modules compiled. `--checkout DIR` also times the database commands of
the atlas in DIR (say, a worktree of an earlier commit) in the same runs, for a before/after.
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


def timings(
    commands: dict[str, tuple[list[str], str | None]], runs: int, env: dict[str, str]
) -> dict[str, tuple[list[float], list[float]]]:
    """Wall and CPU (user + system) ms of each run of each command `(argv, working directory)`.

    Each command first runs once untimed (it writes the bytecode); then the runs go round the
    commands in turn, so that other work on the machine weighs on all of them alike. CPU time is
    what a busy machine disturbs least."""
    found: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in commands}
    for argv, cwd in commands.values():
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, env=env, cwd=cwd)
    for _ in range(runs):
        for name, (argv, cwd) in commands.items():
            start, start_cpu = time.perf_counter(), _children_cpu()
            subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, env=env, cwd=cwd)
            found[name][0].append((time.perf_counter() - start) * 1000)
            found[name][1].append((_children_cpu() - start_cpu) * 1000)
    return found


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
    parser.add_argument(
        "--checkout", help="also time the database commands of the atlas in this directory (another commit's worktree)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        env = bytecode_env(directory)
        commands: dict[str, tuple[list[str], str | None]] = {name: (argv, None) for name, argv in COMMANDS.items()}
        urls = {"sqlite": sqlite_database(directory)}
        if args.database_url:
            urls["postgresql"] = args.database_url
        checkouts = {"": None} if not args.checkout else {"": None, ", checkout": args.checkout}
        for engine, url in urls.items():
            for name, argv in DATABASE_COMMANDS.items():
                for suffix, cwd in checkouts.items():
                    commands[f"atlas {name} ({engine}{suffix})"] = ([*ATLAS, "--database-url", url, *argv], cwd)
        found = timings(commands, args.runs, env)
        base = min(found["python -c pass"][0])
        floor, floor_cpu = min(found[FLOOR][0]), min(found[FLOOR][1])
        floor_cpu_median = statistics.median(found[FLOOR][1])
        print(
            f"{'command':<54} {'best ms':>8} {'median ms':>10} {'over python':>12} {'x floor':>8} "
            f"{'cpu best ms':>12} {'cpu x floor':>12} {'cpu med ms':>11} {'cpu med x floor':>16}"
        )
        for name, (wall, cpu) in found.items():
            best, line = min(wall), f"{name:<54} {min(wall):8.1f} {statistics.median(wall):10.1f} "
            if name in COMMANDS:
                line += f"{best - base:+11.1f} {'':>8} {min(cpu):12.1f} {'':>12} {statistics.median(cpu):11.1f}"
            else:
                line += (
                    f"{best - base:+11.1f} {best / floor:8.2f} {min(cpu):12.1f} {min(cpu) / floor_cpu:12.2f} "
                    f"{statistics.median(cpu):11.1f} {statistics.median(cpu) / floor_cpu_median:16.2f}"
                )
            print(line)


if __name__ == "__main__":
    main()
