"""The plumbing of all terminal output: consoles, JSON, CSV, tables, bars, progress.

Data goes to stdout; progress, notes and errors go to stderr. Rich is imported only when a
person's output is drawn.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from atlas_cli.domain.periods import iso_millis

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

STATUS_STYLE = {
    "ok": "green",
    "warning": "yellow",
    "soft_limit": "dark_orange",
    "hard_limit": "red",
    "trial_expired": "red",
    "subscription_required": "red",
    "billing_check_failed": "red",
    "at limit": "yellow",
}


CHART_WIDTH = 12  # characters of the longest bar in `usage history`'s chart


def days(window: Any) -> str:
    """A half-open window as the inclusive days it covers: `2026-11-01 – 2026-11-30`."""
    from datetime import timedelta

    last = window.end - timedelta(microseconds=1)
    return f"{window.start.date().isoformat()} – {last.date().isoformat()}"


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 UTC with milliseconds and a Z, as the Atlas API writes times."""
    if moment is None:
        return None
    return iso_millis(moment)


def number(value: int | None, unlimited: str = "Unlimited") -> str:
    return unlimited if value is None else f"{value:,}"


class Output:
    """Writes data in the chosen format; the report renderers build on it."""

    def __init__(self, *, no_color: bool = False) -> None:
        self._no_color = no_color

    @cached_property
    def out(self) -> Console:
        from rich.console import Console

        return Console(no_color=self._no_color or None, markup=False, highlight=False, emoji=False)

    @cached_property
    def err(self) -> Console:
        from rich.console import Console

        return Console(stderr=True, no_color=self._no_color or None, markup=False, highlight=False, emoji=False)

    # --- plumbing -------------------------------------------------------------------------

    def error(self, message: str) -> None:
        sys.stderr.write(f"Error: {message}\n")

    def note(self, message: str) -> None:
        sys.stderr.write(f"{message}\n")

    def json(self, data: Any) -> None:
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")

    def csv(self, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(["" if v is None else v for v in row] for row in rows)

    def _emit(
        self, fmt: str, data: Any, header: Sequence[str], rows: Sequence[Sequence[Any]], table: Callable[[], None]
    ) -> None:
        if fmt == "json":
            self.json(data)
        elif fmt == "csv":
            self.csv(header, rows)
        else:
            table()

    @contextmanager
    def progress(self, label: str) -> Iterator[Callable[[int, int], None] | None]:
        """A progress bar on stderr when it is a terminal; nothing otherwise.

        Redrawn by the caller's updates (at most 10 times a second), not by a thread of its own:
        ingestion may fork a writer process, and forking is only safe without other threads."""
        if not sys.stderr.isatty():
            yield None
            return
        import time

        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(
            TextColumn(label),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.err,
            transient=True,
            auto_refresh=False,
        ) as bar:
            task = bar.add_task(label, total=None)
            drawn = [0.0]

            def advance(done: int, total: int) -> None:
                now = time.monotonic()
                redraw = now - drawn[0] >= 0.1 or done >= total
                if redraw:
                    drawn[0] = now
                bar.update(task, completed=done, total=total, refresh=redraw)

            yield advance

    def _table(self, title: str | None = None, *columns: str, **kwargs: Any) -> Table:
        from rich.table import Table

        table = Table(title=title, title_justify="left", **kwargs)
        for column in columns:
            table.add_column(column.rstrip("#"), justify="right" if column.endswith("#") else "left")
        return table

    def _bar(self, used: int, limit: int | None, status: str) -> Any:
        from rich.progress_bar import ProgressBar
        from rich.text import Text

        if limit is None:
            return Text("Unlimited", style="dim")
        if limit <= 0:
            return Text("not allowed", style="red")
        return ProgressBar(
            total=limit,
            completed=min(used, limit),
            width=30,
            complete_style=STATUS_STYLE.get(status, "green"),
            finished_style=STATUS_STYLE.get(status, "green"),
        )

    def _status(self, status: str) -> Any:
        from rich.text import Text

        return Text(status, style=STATUS_STYLE.get(status, ""))
