"""The console entry point.

`atlas --version` and `atlas --help` are answered without importing Typer, which alone costs
about as much as the interpreter's start: the root help is kept in `root_help.txt`, generated
from the CLI (`completions/generate.sh`) and checked against it by the test suite.
"""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path

ROOT_HELP = Path(__file__).with_name("root_help.txt")
HELP_WIDTH = 80  # Click wraps help at min(terminal width, 80): a wider terminal sees the same text


def run() -> None:
    try:
        _run(sys.argv[1:])
        sys.stdout.flush()
    except OSError as exc:
        if not closed_pipe(exc):
            raise
        silence_stdout()


def _run(args: list[str]) -> None:
    if args in (["--version"], ["-V"]):
        from atlas_cli import __version__

        sys.stdout.write(f"atlas {__version__}\n")
        return
    if args in (["--help"], ["-h"]) and _cached_help_fits():
        sys.stdout.write(ROOT_HELP.read_text(encoding="utf-8"))
        return
    from atlas_cli.cli.main import app

    app(prog_name="atlas")


def closed_pipe(exc: BaseException) -> bool:
    """Whether `exc` says the reader of stdout went away (`atlas usage export | head`)."""
    return isinstance(exc, OSError) and exc.errno == errno.EPIPE


def silence_stdout() -> None:
    """After a closed pipe: point stdout at /dev/null, so the interpreter's last flush of what is
    still buffered cannot fail again (Python's documented recipe for SIGPIPE). The command then
    ends quietly with exit 0: the reader took all it wanted."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (tests): nothing will be flushed to it
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def _cached_help_fits() -> bool:
    import shutil

    return ROOT_HELP.exists() and shutil.get_terminal_size().columns >= HELP_WIDTH
