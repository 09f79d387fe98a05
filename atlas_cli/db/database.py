"""A lazily-built engine and the transactions atlas runs in."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING

from atlas_cli.db import urls
from atlas_cli.db.engine import create_engine, refuses_writes, translate_errors

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

    from atlas_cli.db.layout import Billing


class Database:
    """The database at `url`; nothing is opened until a connection is asked for."""

    def __init__(
        self, url: str, *, create: bool = False, name: str = "the database URL", billing_model: str | None = None
    ) -> None:
        """Raises BadInput for a URL atlas cannot use, naming it `name` (never echoing it).

        `billing_model` (ATLAS_BILLING_MODEL) overrides the billing model detected in the database.
        """
        self.url = urls.normalize(url, name)
        self.masked_url = urls.mask(url, name)
        self._password = urls.password(self.url)
        self._create = create
        self.billing_model = billing_model
        self._billing: Billing | None = None

    @property
    def dialect(self) -> str:
        return "sqlite" if self.url.startswith("sqlite") else "postgresql"

    @cached_property
    def engine(self) -> Engine:
        return create_engine(self.url, create=self._create)

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A connection for reads; nothing it does is committed."""
        with translate_errors(self.masked_url, self._password), self.engine.connect() as conn:
            yield conn

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A transaction: committed when the block ends, rolled back when it raises.

        Everything in it, schema changes included, is one unit on both engines. On SQLite the
        transaction is `BEGIN IMMEDIATE`: the driver would otherwise run each CREATE TABLE on
        its own (so an interrupted `db init` kept tables without their migration stamp), and
        writers are serialised from the start, so what a transaction reads stays true until
        it commits (as a row lock does on PostgreSQL).
        """
        with translate_errors(self.masked_url, self._password), self.engine.connect() as conn:
            if self.dialect == "sqlite":
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")  # the driver leaves BEGIN to us
                _begin_immediate(conn)
            else:
                conn.begin()
            try:
                yield conn
            except BaseException:
                conn.rollback()
                raise
            conn.commit()

    @contextmanager
    def autocommit(self) -> Iterator[Connection]:
        """A connection where each statement commits on its own: for DDL that refuses a
        transaction (PostgreSQL's CREATE/DROP INDEX CONCURRENTLY)."""
        with translate_errors(self.masked_url, self._password), self.engine.connect() as conn:
            yield conn.execution_options(isolation_level="AUTOCOMMIT")

    def billing(self, conn: Connection) -> Billing:
        """The billing model of this database (detected once, or the override), its catalog and layout.

        Raises:
            BadInput: an override that names no billing model.
        """
        if self._billing is None:
            from atlas_cli.db.layout import billing_for

            self._billing = billing_for(conn, self.billing_model)
        return self._billing

    def redetect(self) -> None:
        """Forget the detected billing model (after `db init` laid a model out)."""
        self._billing = None

    def dispose(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()


def _begin_immediate(conn: Connection) -> None:
    """BEGIN IMMEDIATE; on a read-only SQLite database a plain BEGIN, so that reads work and each
    write is refused on its own (a caller may then show what it would have stored)."""
    from sqlalchemy import exc as sa_exc

    try:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    except sa_exc.OperationalError as exc:
        if not refuses_writes(exc):
            raise
        conn.exec_driver_sql("BEGIN")
