"""`--debug`: every SQL statement atlas runs, with its time, on stderr.

Statements only, never their parameters (they are values a tenant chose, and atlas never needs
them to debug a query plan); the listener is on the Engine class, so engines built anywhere in
the invocation are traced, and it is removed when the invocation ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

SHOWN = 500  # characters of a statement shown; the rest is elided


def trace_statements(write: Callable[[str], None]) -> Callable[[], None]:
    """Sends one line per statement to `write`: its duration in ms and its text on one line.

    Returns the function that stops the tracing."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        conn.info.setdefault("atlas_started", []).append(time.perf_counter())

    def after(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        started = conn.info.get("atlas_started") or [time.perf_counter()]
        elapsed = (time.perf_counter() - started.pop()) * 1000
        text = " ".join(statement.split())
        if len(text) > SHOWN:
            text = text[:SHOWN] + " ..."
        many = " (executemany)" if executemany else ""
        write(f"SQL {elapsed:.2f} ms{many}: {text}")

    def failed(context: Any) -> None:
        conn = context.connection
        if conn is not None and conn.info.get("atlas_started"):
            elapsed = (time.perf_counter() - conn.info["atlas_started"].pop()) * 1000
            write(f"SQL failed after {elapsed:.2f} ms: {type(context.original_exception).__name__}")

    event.listen(Engine, "before_cursor_execute", before)
    event.listen(Engine, "after_cursor_execute", after)
    event.listen(Engine, "handle_error", failed)

    def stop() -> None:
        event.remove(Engine, "before_cursor_execute", before)
        event.remove(Engine, "after_cursor_execute", after)
        event.remove(Engine, "handle_error", failed)

    return stop
