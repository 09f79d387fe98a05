"""The console entry point.

`atlas --version` and `atlas --help` are answered without importing Typer, which alone costs
about as much as the interpreter's start: the root help is kept in `root_help.txt`, generated
from the CLI (`completions/generate.sh`) and checked against it by the test suite.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT_HELP = Path(__file__).with_name("root_help.txt")
HELP_WIDTH = 80  # Click wraps help at min(terminal width, 80): a wider terminal sees the same text


def run() -> None:
    args = sys.argv[1:]
    if args in (["--version"], ["-V"]):
        from atlas_cli import __version__

        sys.stdout.write(f"atlas {__version__}\n")
        return
    if args in (["--help"], ["-h"]) and _cached_help_fits():
        sys.stdout.write(ROOT_HELP.read_text(encoding="utf-8"))
        return
    from atlas_cli.cli.main import app

    app(prog_name="atlas")


def _cached_help_fits() -> bool:
    import shutil

    return ROOT_HELP.exists() and shutil.get_terminal_size().columns >= HELP_WIDTH
