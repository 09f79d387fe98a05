"""Column types that behave the same on PostgreSQL and SQLite."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler


class UTCDateTime(sa.TypeDecorator[datetime]):
    """`timestamptz` on PostgreSQL; on SQLite naive UTC text. Always aware UTC in Python."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class JSONDocument(sa.TypeDecorator[Any]):
    """`jsonb` on PostgreSQL, JSON as text on SQLite. The PostgreSQL type is looked up only when a
    PostgreSQL connection needs it: importing its dialect costs a SQLite command ~0.1 s."""

    impl = sa.JSON()
    cache_ok = True
    should_evaluate_none = True  # as sa.JSON: Python None is stored as JSON null, not SQL NULL

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB

            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(sa.JSON())


def json_type() -> sa.types.TypeEngine[Any]:
    return JSONDocument()


def uuid_type() -> sa.types.TypeEngine[Any]:
    return sa.Uuid(as_uuid=False).with_variant(sa.String(36), "sqlite")


class RandomUUID(sa.sql.functions.FunctionElement[str]):
    """A new random UUID made by the database, as the Atlas server's column defaults make them:
    `gen_random_uuid()` on PostgreSQL (`::text` for text columns), a version-4 UUID on SQLite."""

    type = sa.String()
    inherit_cache = True

    def __init__(self, *, as_text: bool = False) -> None:
        self.as_text = as_text
        super().__init__()


# Version 4 layout: 8-4-4-4-12 hex digits, "4" as the version, 8/9/a/b as the variant.
_SQLITE_UUID4 = (
    "lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || "
    "substr(lower(hex(randomblob(2))), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || "
    "substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6)))"
)


@compiles(RandomUUID, "postgresql")
def _random_uuid_postgresql(element: RandomUUID, compiler: SQLCompiler, **kw: Any) -> str:
    return "gen_random_uuid()::text" if element.as_text else "gen_random_uuid()"


@compiles(RandomUUID)
def _random_uuid_default(element: RandomUUID, compiler: SQLCompiler, **kw: Any) -> str:
    return f"({_SQLITE_UUID4})"
