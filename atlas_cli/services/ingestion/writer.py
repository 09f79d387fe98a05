"""A child process that writes batches to PostgreSQL while the caller reads and checks the next.

Ingestion is two jobs of about the same size: Python reading, validating and formatting events,
and the database storing them (COPY, deduplication, four indexes). Done one after the other, each
waits for the other. A thread cannot overlap them well: every step of the writer needs the
interpreter lock back from the busy reader. A forked process can. It gets batches already in
COPY's text format over a pipe, writes each in its own transaction on its own connection, and
answers with the number of rows inserted or the error; one batch at a time.

The child ignores SIGINT (Ctrl-C reaches the whole process group; the parent decides what
to do) and dies on SIGTERM. If it dies, the parent sees the pipe close and writes the batch
itself: a batch is only ever counted from an answer, and writing one twice inserts nothing twice.
Forking is used on Linux only; elsewhere callers write in their own process.

The child never outlives its parent and holds nothing of the caller's: the kernel kills it when
the parent dies (PR_SET_PDEATHSIG, even in the middle of a COPY), it ends at EOF on its pipe
(it keeps no copy of the parent's end), and its stdin, stdout and stderr are /dev/null and every
other inherited descriptor (the input, the parent's database connections) is closed, so a
`kill -9` of `atlas usage ingest f | cat` ends the pipeline and the writer's connection.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from atlas_cli.errors import AtlasError

if TYPE_CHECKING:
    from collections.abc import Callable
    from multiprocessing.connection import Connection

    from atlas_cli.services.credit_deduction import Pricing

JOIN_SECONDS = 5.0


class WriterGone(Exception):
    """The child process ended (killed, or its pipe broke): the caller writes in-process instead."""


def available(dialect: str) -> bool:
    """Whether a background writer can be used for a database of this `dialect`."""
    return dialect == "postgresql" and sys.platform == "linux"


class BackgroundWriter:
    """One child process writing COPY text batches to the database at `url`, one at a time."""

    def __init__(
        self,
        url: str,
        *,
        costs: bool = False,
        pricing: Pricing | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        """Fork the writer; `costs`: the batches carry the cost column (`copy_text`); `pricing`:
        credit prices, deducted in each batch's transaction (`clock`: the ledger's time). Raises
        OSError when no process can be started."""
        import multiprocessing

        context = multiprocessing.get_context("fork")
        self._pipe, child_end = context.Pipe()
        self._process = context.Process(
            target=_serve,
            args=(child_end, url, os.getpid(), self._pipe, costs, pricing, clock),
            name="atlas-writer",
            daemon=True,
        )
        try:
            self._process.start()
        except OSError:
            self._pipe.close()
            raise
        finally:
            child_end.close()
        self.busy = False

    def submit(self, data: bytes) -> None:
        """Start writing `data` (COPY text). Raises WriterGone."""
        if self.busy:
            raise RuntimeError("the previous batch's answer was not read")
        try:
            self._pipe.send_bytes(data)
        except OSError as exc:
            raise WriterGone(str(exc)) from exc
        self.busy = True

    def result(self) -> int:
        """Wait for the batch submitted last: rows inserted. Raises its AtlasError, WriterGone."""
        self.busy = False
        try:
            answer = self._pipe.recv()
        except (EOFError, OSError) as exc:
            raise WriterGone(str(exc) or "the writer process ended") from exc
        if isinstance(answer, BaseException):
            raise answer
        return int(answer)

    def close(self) -> None:
        """End the child after the batch it is writing (waits for it)."""
        with contextlib.suppress(OSError):
            self._pipe.send_bytes(b"")
        self._pipe.close()
        self._process.join(JOIN_SECONDS)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(JOIN_SECONDS)
        self._process.close()


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with_parent(parent: int) -> None:
    """Have the kernel kill this process when `parent` ends; end now if it already has."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent ended before the request was made
        os._exit(0)


def _hold_nothing(keep: int) -> None:
    """Standard streams to /dev/null; close every other inherited descriptor but `keep`."""
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    os.closerange(3, keep)
    os.closerange(keep + 1, os.sysconf("SC_OPEN_MAX") if hasattr(os, "sysconf") else 65536)


def _serve(
    pipe: Connection,
    url: str,
    parent: int,
    parent_end: Connection,
    costs: bool,
    pricing: Pricing | None = None,
    clock: Callable[[], datetime] | None = None,
) -> None:
    """The child: write each batch received until an empty message or the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _die_with_parent(parent)
    parent_end.close()  # so the pipe reads EOF once the parent is gone
    _hold_nothing(pipe.fileno())
    import sqlalchemy as sa

    from atlas_cli.db import events as sql
    from atlas_cli.db.database import Database

    db = Database(url)  # its own engine: connections inherited from the parent are never touched
    # Its connections hold the staging tables from the start: a batch's transaction is COPY, one
    # statement and COMMIT (the same round trips as the bare database's).
    sa.event.listen(db.engine, "connect", sql.create_staging_tables)
    while True:
        try:
            data = pipe.recv_bytes()
        except (EOFError, OSError):
            break
        if not data:
            break
        answer: int | BaseException
        try:
            with db.begin() as conn:
                collector = pricing.collector() if pricing is not None else None
                answer = sql.insert_copy_text(conn, data, costs=costs, inserted=collector)
                if collector is not None and pricing is not None:
                    from atlas_cli.services.credit_deduction import deduct

                    deduct(conn, pricing, collector.rows, clock() if clock else datetime.now(UTC), collector.report)
        except AtlasError as exc:
            answer = exc
        except Exception as exc:  # a defect: the parent raises it as it would have in-process
            answer = RuntimeError(f"the writer process failed: {exc!r}")
        try:
            pipe.send(answer)
        except OSError:
            break
    db.dispose()
