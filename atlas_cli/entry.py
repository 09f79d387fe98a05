"""The console entry point. `--version` is answered before Typer is even imported."""

from __future__ import annotations

import sys


def run() -> None:
    if sys.argv[1:] in (["--version"], ["-V"]):
        from atlas_cli import __version__

        sys.stdout.write(f"atlas {__version__}\n")
        return
    from atlas_cli.cli.main import app

    app(prog_name="atlas")
