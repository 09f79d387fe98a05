"""The plumbing of all terminal output: consoles, JSON, CSV, tables, bars, progress.

Data goes to stdout; progress, notes and errors go to stderr. Rich is imported only when a
person's output is drawn.
"""

from __future__ import annotations

import csv
import decimal
import json
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, tzinfo
from functools import cached_property
from typing import TYPE_CHECKING, Any

from atlas_cli.domain.periods import iso_millis

if TYPE_CHECKING:
    from decimal import Decimal

    from rich.table import Table

    from atlas_cli.render.console import SafeConsole

NOT_ENFORCED = "not enforced"  # the status shown for a BYOT workspace's tokens: metered, never blocked

STATUS_STYLE = {
    "ok": "green",
    "warning": "yellow",
    "soft_limit": "dark_orange",
    "hard_limit": "red",
    "trial_expired": "red",
    "subscription_required": "red",
    "billing_check_failed": "red",
    "at limit": "yellow",
    NOT_ENFORCED: "blue",
}


CHART_WIDTH = 12  # characters of the longest bar in `usage history`'s chart

# Characters a terminal may act on instead of showing: C0 controls (ESC starts a sequence that can
# clear the screen or set the window title), DEL, C1 controls (0x9b is a one-byte CSI), and the
# bidirectional overrides and isolates that reorder what is shown.
_BIDI = "\u200e\u200f\u202a-\u202e\u2066-\u2069"
_UNSAFE = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}]")
_UNSAFE_IN_CSV = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_BIDI}]")  # tab and line ends are CSV's
_UNSAFE_IN_JSON = re.compile(f"[\x7f-\x9f{_BIDI}]")  # json.dumps already escapes C0
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def clean(text: str) -> str:
    """Text a tenant chose (a name, an email, metadata), safe to show on a terminal: control
    characters and bidi overrides are shown escaped, `\\x1b` or `\\u202e`, never sent raw."""
    return _UNSAFE.sub(_escaped, text)


def csv_cell(value: Any) -> Any:
    """One CSV cell: booleans as true/false, None empty, numbers as numbers, and text with its
    control characters escaped (as on the terminal) and, when a spreadsheet would run it as a
    formula (it starts with = + - @, a tab or a carriage return), made inert by a leading `'`."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | decimal.Decimal):
        return value
    text = _UNSAFE_IN_CSV.sub(_escaped, str(value))
    return "'" + text if text.startswith(_FORMULA_START) else text


def json_text(data: Any, **kwargs: Any) -> str:
    """`json.dumps` of `data` that never carries a raw DEL, C1 or bidi control: they are written as
    `\\u009b`-style escapes, which decode to the very same strings."""
    text = json.dumps(data, ensure_ascii=False, default=json_number, **kwargs)
    return _UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def chart_bar(value: int, top: int, width: int = CHART_WIDTH) -> str:
    """A bar of `width * value / top` cells drawn in eighths of a cell (full blocks, then one of
    ▏▎▍▌▋▊▉), so a small value is still seen: anything above zero gets at least ▏."""
    if value <= 0 or top <= 0:
        return ""
    eighths = min(max(1, round(8 * width * value / top)), 8 * width)
    full, rest = divmod(eighths, 8)
    return "█" * full + ("", "▏", "▎", "▍", "▌", "▋", "▊", "▉")[rest]


def days(window: Any) -> str:
    """A half-open window as the inclusive days it covers: `2026-11-01 – 2026-11-30`."""
    from datetime import timedelta

    last = window.end - timedelta(microseconds=1)
    return f"{window.start.date().isoformat()} – {last.date().isoformat()}"


def zone_name(zone: tzinfo) -> str:
    """An IANA zone's name; UTC for datetime.UTC."""
    return str(getattr(zone, "key", "UTC"))


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 UTC with milliseconds and a Z, as the Atlas API writes times."""
    if moment is None:
        return None
    return iso_millis(moment)


def json_number(value: Any) -> Any:
    """Dollar amounts (Decimal) as JSON numbers: whole ones as integers, others as the shortest float
    that reads back the same (at most six decimals, the database's scale)."""
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def number(value: int | Decimal | None, unlimited: str = "Unlimited") -> str:
    return unlimited if value is None else f"{value:,}"


def stdout_shows_styles() -> bool:
    """Whether Rich may style what it writes to stdout: a terminal, or one forced by TTY_COMPATIBLE=1
    or FORCE_COLOR (Rich's own rules, leaning to yes when in doubt)."""
    if os.environ.get("TTY_COMPATIBLE", "") == "1" or os.environ.get("FORCE_COLOR"):
        return True
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return True


_TRAILING_SPACE = re.compile(r"\s$")


class PlainLines:
    """stdout where no style shows (a pipe, a file): lines of text are written as Rich writes them
    there, without importing Rich; anything else (a table, a styled text) goes to the Rich console."""

    def __init__(self, console: Callable[[], SafeConsole]) -> None:
        self._make_console = console

    @cached_property
    def _console(self) -> SafeConsole:
        return self._make_console()

    def write_line(self, text: str) -> bool:
        """Writes `text` and a newline, as Rich would; False (nothing written) when Rich would change
        it: a control character (Rich drops some, expands tabs) or a trailing space (Rich trims it
        past the width)."""
        if _UNSAFE.search(text) or _TRAILING_SPACE.search(text):
            return False
        sys.stdout.write(f"{text}\n")
        return True

    def print(self, *objects: Any) -> None:
        # the console escapes control characters (`clean`) in the strings it prints
        if not (len(objects) == 1 and isinstance(objects[0], str) and self.write_line(clean(objects[0]))):
            self._console.print(*objects)

    def print_table(self, table: Table, need: int) -> None:
        self._console.print_table(table, need)

    @property
    def width(self) -> int:
        return self._console.width


class Output:
    """Writes data in the chosen format; the report renderers build on it."""

    def __init__(self, *, no_color: bool = False, quiet: bool = False, zone: tzinfo = UTC) -> None:
        self._no_color = no_color
        self.quiet = quiet  # data only: no progress, notes, warnings or hints (errors still show)
        self.zone = zone  # tables show times in it; JSON and CSV keep the API's UTC

    def when(self, moment: datetime | None) -> str | None:
        """A time for a table: ISO 8601 in UTC with a Z, or in the chosen zone with its
        offset (`2026-11-22T16:30:00.000+01:00`)."""
        if moment is None or self.zone is UTC:
            return iso(moment)
        return moment.astimezone(self.zone).isoformat(timespec="milliseconds")

    def day(self, moment: datetime) -> str:
        """The calendar date of `moment` in the chosen zone."""
        return moment.astimezone(self.zone).date().isoformat()

    def days(self, window: Any) -> str:
        """A half-open window as the inclusive days it covers in the chosen zone, and the zone;
        a window whose ends are not midnights there (a UTC billing period shown in another zone)
        as its two instants."""
        from datetime import time, timedelta

        ends = (window.start.astimezone(self.zone), window.end.astimezone(self.zone))
        if any(end.timetz().replace(tzinfo=None) != time.min for end in ends):
            return f"{self.when(window.start)} → {self.when(window.end)}"
        last = window.end - timedelta(microseconds=1)
        return f"{self.day(window.start)} – {self.day(last)} ({self.zone_name})"

    @property
    def zone_name(self) -> str:
        return zone_name(self.zone)

    @cached_property
    def out(self) -> SafeConsole | PlainLines:
        if not stdout_shows_styles():
            return PlainLines(self._out_console)
        return self._out_console()

    def _out_console(self) -> SafeConsole:
        from atlas_cli.render.console import SafeConsole

        # soft_wrap: a line longer than the terminal is left for the terminal to wrap, so a pipe
        # gets it whole, never broken in the middle of a number
        return SafeConsole(no_color=self._no_color or None, markup=False, highlight=False, emoji=False, soft_wrap=True)

    def plain_line(self, text: str) -> bool:
        """Writes `text` (atlas's own words, whose styles would not show) without Rich when stdout
        shows no styles and Rich would write it unchanged; False, writing nothing, otherwise."""
        out = self.out
        return isinstance(out, PlainLines) and out.write_line(text)

    @cached_property
    def err(self) -> SafeConsole:
        from atlas_cli.render.console import SafeConsole

        return SafeConsole(stderr=True, no_color=self._no_color or None, markup=False, highlight=False, emoji=False)

    # --- plumbing -------------------------------------------------------------------------

    def error(self, message: str) -> None:
        sys.stderr.write(f"Error: {clean(message)}\n")

    def note(self, message: str) -> None:
        """A notice or hint on stderr; --quiet leaves it out."""
        if not self.quiet:
            sys.stderr.write(f"{clean(message)}\n")

    def warn(self, message: str) -> None:
        """A warning on stderr that --quiet keeps: something was not done, or may be wrong."""
        sys.stderr.write(f"{clean(message)}\n")

    def json(self, data: Any) -> None:
        sys.stdout.write(json_text(data, indent=2) + "\n")

    def csv(self, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Every CSV atlas prints goes through `csv_cell`."""
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(header)
        writer.writerows([csv_cell(v) for v in row] for row in rows)

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

    def _print_table(
        self, title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]], **kwargs: Any
    ) -> None:
        """Prints a title line and a table. A header ending in `#` is a number, in `~` free text
        that may fold; an empty header is a decoration, dropped first on a narrow terminal. Ids,
        slugs, numbers and dates are never cut (see render.console.fitted)."""
        from atlas_cli.render.console import fitted

        if title:
            self.out.print(title)
        table, need = fitted(columns, rows, self.out.width, **kwargs)
        self.out.print_table(table, need)

    def _bar(self, used: int | Decimal, limit: int | Decimal | None, status: str) -> Any:
        from rich.progress_bar import ProgressBar
        from rich.text import Text

        if limit is None:
            return Text("Unlimited", style="dim")
        if limit <= 0:
            return Text("not allowed", style="red")
        return ProgressBar(
            total=float(limit),
            completed=float(min(used, limit)),
            width=30,
            complete_style=STATUS_STYLE.get(status, "green"),
            finished_style=STATUS_STYLE.get(status, "green"),
        )

    def _status(self, status: str) -> Any:
        from rich.text import Text

        return Text(status, style=STATUS_STYLE.get(status, ""))
