"""`atlas context`: add, list, use, remove and show the contexts of the user config file.

Every view masks the database password (`postgresql://atlas:***@host/db`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from atlas_cli.contexts import Applied, ContextFile, applied, check_name
from atlas_cli.db import urls
from atlas_cli.errors import BadInput, Conflict


@dataclass(frozen=True)
class ContextView:
    name: str
    current: bool
    database_url: str | None  # masked
    workspace: str | None
    actor: str | None
    billing_model: str | None
    chosen_by: str | None = None  # flag | env | current, for the context that applies


@dataclass(frozen=True)
class ContextChange:
    context: ContextView
    file: Path
    action: str  # added | replaced | now current | removed


def _masked(url: str | None) -> str | None:
    if url is None:
        return None
    try:
        return urls.mask(url)
    except BadInput as exc:
        return f"(unusable: {exc.message})"


def _view(name: str, values: dict[str, str], current: str | None, chosen_by: str | None = None) -> ContextView:
    return ContextView(
        name=name,
        current=name == current,
        database_url=_masked(values.get("database_url")),
        workspace=values.get("workspace"),
        actor=values.get("actor"),
        billing_model=values.get("billing_model"),
        chosen_by=chosen_by,
    )


class ContextService:
    def __init__(self, path: Path | None = None) -> None:
        self._path = path

    def _file(self) -> ContextFile:
        return ContextFile(self._path)

    def add(
        self,
        name: str,
        *,
        database_url: str,
        workspace: str | None = None,
        actor: str | None = None,
        billing_model: str | None = None,
        replace: bool = False,
        use: bool = False,
    ) -> ContextChange:
        """Adds (or with `replace`, replaces) a context; with `use` it becomes the current one.

        Raises:
            BadInput: a bad name, database URL (never echoed) or billing model.
            Conflict: the name is taken and `replace` is not given.
        """
        from atlas_cli.db.layout import parse_model

        check_name(name)
        urls.parse(database_url, "--database-url")
        values = {"database_url": database_url.strip()}
        for key, value in (("workspace", workspace), ("actor", actor)):
            if value is not None and value.strip():
                values[key] = value.strip()
        if billing_model is not None:
            values["billing_model"] = parse_model(billing_model, "--billing-model")
        file = self._file()
        existed = name in file.contexts()
        if existed and not replace:
            raise Conflict(f"context {name!r} exists; give --replace to replace it")
        file.put(name, values)
        if use:
            file.current = name
        file.save()
        return ContextChange(_view(name, values, file.current), file.path, "replaced" if existed else "added")

    def list(self) -> list[ContextView]:
        file = self._file()
        return [_view(name, values, file.current) for name, values in file.contexts().items()]

    def use(self, name: str) -> ContextChange:
        """Raises BadInput for a bad name, NotFound for an unknown context."""
        file = self._file()
        values = file.get(name)
        file.current = name
        file.save()
        return ContextChange(_view(name, values, name), file.path, "now current")

    def remove(self, name: str) -> ContextChange:
        """Removes a context (the current one too: then none is current).

        Raises BadInput for a bad name, NotFound for an unknown context."""
        file = self._file()
        values = file.get(name)
        view = _view(name, values, file.current)
        file.remove(name)
        file.save()
        return ContextChange(view, file.path, "removed")

    def show(self, name: str | None, flag: str | None) -> ContextView | None:
        """The context `name`, else the one that applies (`flag`, ATLAS_CONTEXT, current), else None.

        Raises BadInput for a bad name, NotFound for an unknown context."""
        file = self._file()
        if name is not None:
            return _view(name, file.get(name), file.current)
        chosen: Applied | None = applied(flag, path=self._path)
        if chosen is None:
            return None
        return _view(chosen.name, file.get(chosen.name), file.current, chosen.chosen_by)
