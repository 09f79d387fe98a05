"""Database URLs: the driver mapping and password masking. Imports nothing heavy."""

from __future__ import annotations

import re
from pathlib import Path

_SCHEME = re.compile(r"^(?P<scheme>[a-zA-Z0-9+]+)://")
_PASSWORD = re.compile(r"^(?P<head>[a-zA-Z0-9+]+://[^:/@]*):(?P<password>[^@]*)@")


def normalize(url: str) -> str:
    """Map the Atlas server's `postgres://`/`postgresql://` forms to the psycopg 3 driver."""
    match = _SCHEME.match(url)
    if not match:
        return url
    scheme = match["scheme"].lower()
    if scheme in ("postgres", "postgresql") or scheme.startswith("postgresql+"):
        return "postgresql+psycopg://" + url[match.end() :]
    return url


def mask(url: str) -> str:
    """`url` with its password replaced by `***`."""
    return _PASSWORD.sub(lambda m: f"{m['head']}:***@", url)


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL, or None for another engine or an in-memory database."""
    if not url.startswith("sqlite"):
        return None
    _, _, rest = url.partition(":///")
    rest = rest.split("?", 1)[0]
    if not rest or rest == ":memory:":
        return None
    return Path(rest)
