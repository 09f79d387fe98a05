"""The engine factory and the translation of database errors into AtlasErrors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from atlas_cli.db import urls
from atlas_cli.errors import Conflict, DatabaseUnavailable, NotConfigured, PermissionDenied

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


def create_engine(url: str, *, create: bool = False) -> Engine:
    """An engine for `url` (already normalized).

    Raises:
        NotConfigured: a SQLite file that does not exist, unless `create` is set.
    """
    import sqlalchemy as sa

    path = urls.sqlite_path(url)
    if path is not None:
        if not path.exists():
            if not create:
                raise NotConfigured(
                    f"no database at {path}: run `atlas demo` or `atlas db init`, "
                    "or set DATABASE_URL to the Atlas database"
                )
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.startswith("postgresql"):
        return sa.create_engine(
            url,
            connect_args={"connect_timeout": 5, "options": "-c timezone=UTC", "application_name": "atlas"},
            pool_pre_ping=False,
        )
    return sa.create_engine(url)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


_MISSING_TABLE_MARKERS = ("no such table", "undefinedtable")
_MISSING_COLUMN_MARKERS = ("no such column", "undefinedcolumn", "has no column")


# SQLSTATEs of a write the server refuses: no privilege (a SELECT-only role), read-only transaction.
_READ_ONLY_SQLSTATES = frozenset({"42501", "25006"})


def refuses_writes(exc: BaseException) -> bool:
    """Whether a driver error says this connection may not write (not that the write was wrong)."""
    orig = getattr(exc, "orig", None)
    if getattr(orig, "sqlstate", None) in _READ_ONLY_SQLSTATES:
        return True
    return "readonly database" in str(orig or exc).lower()  # SQLite: a read-only file or query_only


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _scrubbed(text: str, secret: str | None) -> str:
    return text.replace(secret, "***") if secret else text


@contextmanager
def translate_errors(shown_url: str, secret: str | None = None) -> Iterator[None]:
    """Turn SQLAlchemy/driver errors into AtlasErrors with one readable, password-free line.

    `shown_url` is the masked URL; `secret`, the password, is scrubbed from the driver's message
    should it ever repeat it.
    """
    from sqlalchemy import exc as sa_exc

    try:
        yield
    except sa_exc.IntegrityError as exc:
        raise Conflict(f"the database refused the change: {_scrubbed(_first_line(exc), secret)}") from exc
    except sa_exc.DBAPIError as exc:
        reason = _scrubbed(_first_line(exc), secret)
        kind = (type(getattr(exc, "orig", None)).__name__ + " " + reason).lower()
        if any(marker in kind for marker in _MISSING_TABLE_MARKERS):
            raise NotConfigured(
                f"the database at {shown_url} has no Atlas tables ({reason}): "
                "run `atlas db init`, or point DATABASE_URL at the Atlas database"
            ) from exc
        if refuses_writes(exc):
            raise PermissionDenied(
                f"the database refused to write ({reason}): this connection may only read; nothing changed"
            ) from exc
        if any(marker in kind for marker in _MISSING_COLUMN_MARKERS):
            raise NotConfigured(
                f"the database at {shown_url} is not compatible ({reason}): run `atlas db status`"
            ) from exc
        if isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError)):
            raise DatabaseUnavailable(f"database unavailable at {shown_url}: {reason}") from exc
        raise
