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
"""

from __future__ import annotations

import contextlib
import signal
import sys
from typing import TYPE_CHECKING

from atlas_cli.errors import AtlasError

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

JOIN_SECONDS = 5.0


class WriterGone(Exception):
    """The child process ended (killed, or its pipe broke): the caller writes in-process instead."""


def available(dialect: str) -> bool:
    """Whether a background writer can be used for a database of this `dialect`."""
    return dialect == "postgresql" and sys.platform == "linux"


class BackgroundWriter:
    """One child process writing COPY text batches to the database at `url`, one at a time."""

    def __init__(self, url: str) -> None:
        """Fork the writer. Raises OSError when no process can be started."""
        import multiprocessing

        context = multiprocessing.get_context("fork")
        self._pipe, child_end = context.Pipe()
        self._process = context.Process(target=_serve, args=(child_end, url), name="atlas-writer", daemon=True)
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


def _serve(pipe: Connection, url: str) -> None:
    """The child: write each batch received until an empty message or the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    from atlas_cli.db import events as sql
    from atlas_cli.db.database import Database

    db = Database(url)  # its own engine: connections inherited from the parent are never touched
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
                answer = sql.insert_copy_text(conn, data)
        except AtlasError as exc:
            answer = exc
        except Exception as exc:  # a defect: the parent raises it as it would have in-process
            answer = RuntimeError(f"the writer process failed: {exc!r}")
        try:
            pipe.send(answer)
        except OSError:
            break
    db.dispose()
