"""Contexts: named sets of settings (a database, a default workspace, an actor, a billing model)
kept in the user config directory, as kubectl and gh keep theirs (DESIGN section 2).

The file is TOML, written only with mode 0600 (it holds database passwords):

    current = "prod"

    [contexts.prod]
    database_url = "postgresql://atlas:secret@db.internal/atlas"
    workspace = "acme"

The context that applies: `--context NAME`, else `ATLAS_CONTEXT` from the environment, else the
file's `current`. Its values sit between the environment and `.env` in the precedence.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from atlas_cli.errors import BadInput, NotFound

CONFIG_FILE = "config.toml"
ENV = "ATLAS_CONTEXT"
# The keys a context may hold, and the Settings field each one sets.
KEYS = {
    "database_url": "database_url",
    "workspace": "atlas_workspace",
    "actor": "atlas_actor",
    "billing_model": "atlas_billing_model",
}
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@:+-]{0,63}")
NAME_RULE = "1-64 letters, digits and . _ @ : + -, starting with a letter or digit"


@dataclass(frozen=True)
class Applied:
    """The context that applies to this invocation, and what chose it (flag, env or current)."""

    name: str
    chosen_by: str
    values: Mapping[str, str]  # Settings field -> value

    @property
    def source(self) -> str:
        return f"context {self.name}"


def config_path() -> Path:
    """The contexts file in the user config directory (XDG_CONFIG_HOME on Linux)."""
    from platformdirs import user_config_path

    return user_config_path("atlas", appauthor=False) / CONFIG_FILE


def check_name(name: str) -> str:
    """`name` if it may name a context.

    Raises:
        BadInput: empty, too long, or with a path separator, a space or a control character.
    """
    if not _NAME.fullmatch(name):
        shown = name.encode("unicode_escape").decode("ascii")
        raise BadInput(f"context name {shown!r} is not allowed; use {NAME_RULE}")
    return name


class ContextFile:
    """The contexts file, parsed with tomlkit so that a rewrite keeps the user's comments."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or config_path()
        self._doc = self._read()

    def _read(self) -> Any:
        import tomlkit
        from tomlkit.exceptions import ParseError

        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return tomlkit.document()
        except (OSError, UnicodeDecodeError) as exc:
            raise BadInput(f"cannot read {self.path}: {getattr(exc, 'strerror', None) or 'not UTF-8'}") from None
        try:
            doc = tomlkit.parse(text)
        except ParseError as exc:
            raise BadInput(f"{self.path} is not valid TOML (line {exc.line}, column {exc.col})") from None
        self._check(doc.unwrap())
        return doc

    def _check(self, data: dict[str, Any]) -> None:
        current, contexts = data.get("current"), data.get("contexts", {})
        if current is not None and not isinstance(current, str):
            raise BadInput(f"{self.path}: current must be a context name")
        if not isinstance(contexts, dict):
            raise BadInput(f"{self.path}: contexts must be a table")
        for name, values in contexts.items():
            if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
                raise BadInput(f"{self.path}: context {name!r} must be a table of strings")
            unknown = sorted(set(values) - set(KEYS))
            if unknown:
                raise BadInput(f"{self.path}: context {name!r} has unknown keys: {', '.join(unknown)}")

    @property
    def current(self) -> str | None:
        value = self._doc.get("current")
        return str(value) if value is not None else None

    @current.setter
    def current(self, name: str | None) -> None:
        if name is None:
            self._doc.pop("current", None)
        else:
            self._doc["current"] = name

    def contexts(self) -> dict[str, dict[str, str]]:
        """Every context by name (in file order), each as its keys (`database_url`, `workspace`, ...)."""
        table = self._doc.get("contexts")
        return {} if table is None else {str(k): {str(a): str(b) for a, b in v.items()} for k, v in table.items()}

    def get(self, name: str) -> dict[str, str]:
        """Raises NotFound for a context that does not exist."""
        found = self.contexts().get(check_name(name))
        if found is None:
            raise NotFound(f"no context named {name!r} (atlas context list shows them)")
        return found

    def put(self, name: str, values: Mapping[str, str]) -> None:
        import tomlkit

        if "contexts" not in self._doc:
            self._doc["contexts"] = tomlkit.table(is_super_table=True)
        table = tomlkit.table()
        for key, value in values.items():
            table[key] = value
        self._doc["contexts"][check_name(name)] = table

    def remove(self, name: str) -> None:
        self.get(name)
        del self._doc["contexts"][name]
        if self.current == name:
            self.current = None

    def save(self) -> None:
        """Writes the file atomically; it is created with mode 0600 (never chmod-ed afterwards, so
        it is not readable by others for a moment), in a directory created 0700."""
        import tomlkit

        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        temporary.unlink(missing_ok=True)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(tomlkit.dumps(self._doc))
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise


def applied(flag: str | None, environ: Mapping[str, str] | None = None, path: Path | None = None) -> Applied | None:
    """The context that applies: `flag`, else ATLAS_CONTEXT in `environ` (the process
    environment; a `.env` does not choose a context), else the file's current one, else None.

    Raises:
        BadInput: a name that may not name a context, or an unreadable file.
        NotFound: the chosen context does not exist.
    """
    environ = os.environ if environ is None else environ
    if flag is not None:
        name, chosen_by = flag, "flag"
    elif environ.get(ENV):
        name, chosen_by = environ[ENV], "env"
    else:
        if not (path or config_path()).exists():
            return None  # no contexts file: no current context (and no TOML parser to import)
        file = ContextFile(path)
        if file.current is None:
            return None
        name, chosen_by = file.current, "current"
        return Applied(name, chosen_by, _settings(file.get(name)))
    if not (path or config_path()).exists():
        raise NotFound(f"no context named {check_name(name)!r}: no context has been added (atlas context add)")
    return Applied(name, chosen_by, _settings(ContextFile(path).get(name)))


def _settings(values: Mapping[str, str]) -> dict[str, str]:
    return {KEYS[k]: v for k, v in values.items() if k in KEYS and v}
