"""`atlas usage ingest`: validate event lines, write them in batches, never lose one.

Every line is validated on its own; a bad line is rejected (line number and reason, kept in the
rejects file) and never stops the good ones. Batches are written like the SDK's (`flush_at`
events or `flush_interval` seconds). With a sink that can (services.writer), a batch is written
while the next one is read, and is settled before the one after it starts. When the database
fails `max_failures` times in a row, writing stops and every event not written (the failing
batch, what was waiting, and for a file the rest of it) goes to a spool file of JSON lines with
ids assigned, which `ingest` takes again without counting anything twice. A stop request
(SIGINT/SIGTERM) writes the waiting batch first.

A line is complete when its newline has been read, or at the end of input. The bytes after the
last newline when a stop (or giving up on a stream) ends the reading are not a line: for a file
they are left to the next run; from a stream they are kept as read in the spool file. Where the
spool and rejects files go is checked before the first byte of input is read.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any, BinaryIO

from atlas_cli.domain import events as rules
from atlas_cli.domain.events import Event, InvalidEvent
from atlas_cli.errors import BadInput, ExitCode, NotFound
from atlas_cli.services.ingestion.batching import (
    DEFAULT_FLUSH_AT,
    DEFAULT_FLUSH_INTERVAL,
    Attempt,
    Batch,
    EventSink,
    GaveUp,
    RetryPolicy,
    prepare_write,
    write_with_retries,
)
from atlas_cli.services.ingestion.lines import DEFAULT_MAX_LINE_BYTES, LineSource

FORMATS = ("jsonl", "csv")
LISTED_REJECTIONS = 100  # how many rejections the report itself carries; the file has them all
POLL_SECONDS = 0.1  # the longest a stop request waits to be noticed
BOM = b"\xef\xbb\xbf"  # a UTF-8 byte-order mark (Excel's "CSV UTF-8" begins with one)


Progress = Callable[[int, "int | None", int], None]  # bytes read, total bytes (files), lines read


def new_event_id() -> str:
    return rules.uuid7(time.time_ns() // 1_000_000, os.urandom(10))


class StopRequest:
    """Set from a signal handler: the ingestion writes what is waiting and ends."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def set(self, signum: int) -> None:
        self.signum = signum

    def is_set(self) -> bool:
        return self.signum is not None


@dataclass(frozen=True)
class IngestOptions:
    input_format: str = "jsonl"
    workspace: str | None = None
    flush_at: int = DEFAULT_FLUSH_AT
    flush_interval: float = DEFAULT_FLUSH_INTERVAL
    rejects: Path | None = None
    spool: Path | None = None
    read_rest: bool = True  # after giving up, keep reading the input into the spool (files)
    keep_incomplete: bool = False  # an unterminated line at a stop goes to the spool (streams)
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    # Whether the database records event costs (usage_events.gateway_cost_usd). False: a line with
    # a cost is rejected as it is read; None: unknown here, the sink decides when writing.
    event_costs: bool | None = None


@dataclass(frozen=True)
class Rejection:
    line: int
    reason: str


@dataclass(frozen=True)
class Incomplete:
    """The unterminated line that a stop left: never an event nor a rejection."""

    line: int
    size: int  # bytes read of it
    kept_in: Path | None  # the spool file it was kept in, as read (streams); None: left in the file


@dataclass(frozen=True)
class IngestReport:
    lines: int
    accepted: int
    duplicates: int
    rejected: int
    generated_ids: int
    spooled: int
    rejections: tuple[Rejection, ...]
    rejects_file: Path | None
    spool_file: Path | None
    signal: int | None
    failure: str | None
    failure_code: int | None
    incomplete: Incomplete | None = None

    @property
    def exit_code(self) -> int:
        """Database gave up: its code (7); stopped by a signal: 128 + signal; rejected lines: 2."""
        if self.failure_code is not None:
            return self.failure_code
        if self.signal is not None:
            return 128 + self.signal
        return int(ExitCode.BAD_INPUT) if self.rejected else 0


_Pending = tuple[Event, int, str]  # the event, its line number, the line as read (for the rejects file)


class _Outputs:
    """The rejects file (rewritten each run) and the spool file (appended). Both are opened before
    any input is read, so a place that cannot be written ends the run before it consumes a byte;
    a spool file this run created and did not need is removed at the end."""

    def __init__(self, rejects: Path | None, spool: Path | None) -> None:
        self.rejects_path = rejects
        self.spool_path = spool
        self.spooled = 0
        self.kept_raw = False
        self._rejects: IO[str] | None = None
        self._spool: IO[bytes] | None = None
        self._spool_created = False
        if rejects is not None:
            self._rejects = _open(rejects, "--rejects", lambda: rejects.open("w", encoding="utf-8"))
        if spool is not None:
            existed = spool.exists()
            try:
                self._spool = _open(spool, "--spool", lambda: _append(spool))
            except BadInput:
                self.close()
                raise
            self._spool_created = not existed

    def header(self, line: str) -> None:
        if self._rejects is not None:
            self._rejects.write(line + "\n")

    def reject(self, number: int, raw: str | None, reason: str) -> None:
        if self._rejects is not None:
            self._rejects.write(f"# line {number}: {reason}\n" + ("" if raw is None else f"{raw}\n"))

    def spool(self, events: list[Event]) -> None:
        if self._spool is None:
            raise BadInput("no spool file to keep unwritten events in")
        dumps, record = json.dumps, rules.event_record
        self._spool.write("".join(dumps(record(e), ensure_ascii=False) + "\n" for e in events).encode("utf-8"))
        self._spool.flush()
        self.spooled += len(events)

    def spool_raw(self, number: int, data: bytes, note: str) -> bool:
        """Keep `data` (an unterminated line, as read) in the spool file after a `# line N` note."""
        if self._spool is None:
            return False
        self._spool.write(f"# line {number}: {note}\n".encode() + data + b"\n")
        self._spool.flush()
        self.kept_raw = True
        return True

    def close(self) -> None:
        for handle in (self._rejects, self._spool):
            if handle is not None:
                handle.flush()
                os.fsync(handle.fileno())
                handle.close()
        self._rejects = self._spool = None
        if self._spool_created and not (self.spooled or self.kept_raw) and self.spool_path is not None:
            self.spool_path.unlink(missing_ok=True)


def _append(path: Path) -> IO[bytes]:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.open("ab")


def _open(path: Path, option: str, opener: Callable[[], Any]) -> Any:
    """Open an output file now. Raises BadInput (one line) when it cannot be written."""
    try:
        return opener()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise BadInput(f"{option}: cannot write {path}: {reason} (nothing was read)") from None


class _Run:
    """The state of one ingestion: counters, the waiting batch, and where events go."""

    def __init__(
        self,
        sink: EventSink,
        opts: IngestOptions,
        *,
        now: datetime,
        new_id: Callable[[], str],
        sleep: Callable[[float], None],
        on_reject: Callable[[Rejection], None] | None,
    ) -> None:
        self.sink, self.opts, self.now, self.new_id, self.sleep = sink, opts, now, new_id, sleep
        self.on_reject = on_reject
        self.batch: Batch[_Pending] = Batch(opts.flush_at, opts.flush_interval)
        self.out = _Outputs(opts.rejects, opts.spool)
        self.csv = opts.input_format == "csv"
        self.header: tuple[str, ...] | None = None
        self.line_no = self.lines = self.accepted = self.duplicates = self.generated = 0
        self.rejections: list[Rejection] = []
        self.rejected = 0
        self.failure: GaveUp | None = None
        self.in_flight: tuple[list[_Pending], Attempt] | None = None  # the batch being written
        self.incomplete: Incomplete | None = None

    def feed(self, lines: list[bytes | None]) -> None:
        parse, batch = self._parse, self.batch
        if self.line_no == 0 and lines and lines[0] is not None and lines[0].startswith(BOM):
            lines[0] = lines[0][len(BOM) :]
        for raw in lines:
            self.line_no += 1
            pending = parse(raw)
            if pending is not None and batch.add(pending):
                self.flush()

    def _parse(self, raw: bytes | None) -> _Pending | None:
        """The line as a pending event; None for a skipped, header or rejected line."""
        if raw is None:
            self.lines += 1
            limit = self.opts.max_line_bytes
            self.reject(self.line_no, None, f"line longer than {limit:,} bytes (--max-line-bytes); not kept")
            return None
        try:
            text = raw.decode("utf-8").rstrip("\r")
        except UnicodeDecodeError:
            self.lines += 1
            self.reject(self.line_no, raw.decode("utf-8", "replace").rstrip("\r"), "not UTF-8 text")
            return None
        if (text[:1] != "{" and rules.is_skipped(text)) or (self.csv and self._is_header(text)):
            return None
        self.lines += 1
        try:
            if self.header is None:
                # Without a \u escape, JSON text cannot hold a NUL or a lone surrogate (see event_from_fields).
                fields, plain = rules.json_fields(text), "\\u" not in text
            else:
                fields, plain = rules.csv_fields(text, self.header), "\\u" not in text and "\x00" not in text
            event = rules.event_from_fields(
                fields, default_workspace=self.opts.workspace, now=self.now, new_id=self.new_id, plain=plain
            )
        except InvalidEvent as exc:
            self.reject(self.line_no, text, exc.reason)
            return None
        if event.cost_usd is not None and self.opts.event_costs is False:
            self.reject(self.line_no, text, rules.NO_COSTS)
            return None
        if event.generated_id:
            self.generated += 1
        return event, self.line_no, text

    def _is_header(self, text: str) -> bool:
        if not self.csv or self.header is not None:
            return False
        try:
            listed = rules.ALL_FIELDS if self.opts.event_costs else rules.FIELDS
            self.header = rules.csv_header(text, listed)
        except InvalidEvent as exc:
            raise BadInput(f"line {self.line_no}: {exc.reason}") from None
        self.out.header(text)
        return True

    def reject(self, number: int, raw: str | None, reason: str) -> None:
        self.rejected += 1
        rejection = Rejection(number, reason)
        if len(self.rejections) < LISTED_REJECTIONS:
            self.rejections.append(rejection)
        self.out.reject(number, raw, reason)
        if self.on_reject is not None:
            self.on_reject(rejection)

    def flush(self) -> None:
        """Start writing the waiting batch: prepared while the one before it is being written,
        started once that one is settled."""
        pending = self.batch.take()
        if not pending:
            return
        events = [p[0] for p in pending]
        launch = prepare_write(self.sink, events) if self.failure is None else None
        self.settle()
        if launch is None or self.failure is not None:
            self.out.spool(events)
            return
        self.in_flight = pending, launch()

    def settle(self) -> None:
        """Wait for the batch being written (retrying it as needed) and count it; when writing
        gives up, spool it."""
        if self.in_flight is None:
            return
        pending, attempt = self.in_flight
        self.in_flight = None
        events = [p[0] for p in pending]
        try:
            result = write_with_retries(self.sink, events, self.opts.retry, self.sleep, first=attempt)
        except GaveUp as exc:
            self.failure = exc
            self.out.spool(events)
            return
        self.accepted += result.inserted
        self.duplicates += result.duplicates
        refused = [(index, f"unknown workspace {rules.shown(pending[index][0].workspace)}") for index in result.unknown]
        refused += [(index, rules.NO_COSTS) for index in result.costless]
        for index, reason in sorted(refused):
            event, line, raw = pending[index]
            self.generated -= event.generated_id  # counted only for events kept (written or spooled)
            self.reject(line, raw, reason)

    def leave_incomplete(self, data: bytes | None, size: int, why: str) -> None:
        """The unterminated line left when reading stops early: never parsed. From a stream it is
        kept, as read, in the spool file."""
        if not size:
            return
        number = self.line_no + 1
        kept = False
        if self.opts.keep_incomplete and data is not None:
            kept = self.out.spool_raw(number, data, f"incomplete when {why} ({size:,} bytes), kept as read")
        self.incomplete = Incomplete(number, size, self.opts.spool if kept else None)

    def report(self, signal: int | None) -> IngestReport:
        failure = self.failure
        return IngestReport(
            self.lines,
            self.accepted,
            self.duplicates,
            self.rejected,
            self.generated,
            self.out.spooled,
            tuple(self.rejections),
            self.opts.rejects,
            self.opts.spool if self.out.spooled or self.out.kept_raw else None,
            signal,
            None if failure is None else f"{failure.error.message} ({failure.failures} attempt(s))",
            None if failure is None else int(failure.error.exit_code),
            self.incomplete,
        )


class IngestService:
    def __init__(
        self,
        sink: EventSink,
        clock: Callable[[], datetime],
        *,
        sleep: Callable[[float], None] = time.sleep,
        new_id: Callable[[], str] = new_event_id,
    ) -> None:
        self._sink = sink
        self._clock = clock
        self._sleep = sleep
        self._new_id = new_id

    def ingest(
        self,
        stream: BinaryIO,
        opts: IngestOptions,
        *,
        stop: StopRequest | None = None,
        on_reject: Callable[[Rejection], None] | None = None,
        progress: Progress | None = None,
    ) -> IngestReport:
        """Read `stream` to its end (or a stop request), writing every valid event once.
        `progress(bytes_read, total_bytes or None, lines)` is called as reading goes.

        Raises:
            BadInput: unknown format, bad flush settings, a bad CSV header, a rejects or spool
                file that cannot be written (before anything is read).
        """
        check_options(opts)
        stop = stop or StopRequest()
        source = LineSource(stream, opts.max_line_bytes)
        total = source.total_bytes()
        run = _Run(self._sink, opts, now=self._clock(), new_id=self._new_id, sleep=self._sleep, on_reject=on_reject)
        try:
            while True:
                if stop.is_set() or (run.failure is not None and not opts.read_rest):
                    run.leave_incomplete(*source.incomplete(), "stopped" if stop.is_set() else "writing gave up")
                    break
                if source.eof:
                    run.feed(source.last())
                    break
                lines = source.poll(min(run.batch.seconds_left(), POLL_SECONDS))
                run.feed(lines)
                if run.batch.due():
                    run.flush()
                elif not lines:  # the input is quiet: settle the batch being written (retry, count) now
                    run.settle()
                if progress is not None:
                    progress(source.bytes_read, total, run.lines)
            run.flush()
        finally:
            try:
                run.settle()
            finally:
                run.out.close()
        return run.report(stop.signum)


def check_options(opts: IngestOptions) -> None:
    if opts.input_format not in FORMATS:
        raise BadInput(f"--input-format: {opts.input_format!r} is not one of {', '.join(FORMATS)}")
    if opts.flush_at < 1:
        raise BadInput(f"--flush-at must be at least 1, not {opts.flush_at}")
    if opts.flush_interval <= 0:
        raise BadInput("--flush-interval must be at least 1 millisecond")
    if opts.max_line_bytes < 1:
        raise BadInput(f"--max-line-bytes must be at least 1, not {opts.max_line_bytes}")


JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json", ".spool")


def format_for(name: str, given: str | None) -> str:
    """The input format: as given; else `.csv` is CSV, `.jsonl`/`.ndjson`/`.json` and stdin are
    JSON lines. Raises BadInput when the name does not tell."""
    if given:
        return given.strip().lower()
    lowered = name.lower()
    if name == "-" or lowered.endswith(JSONL_SUFFIXES):
        return "jsonl"
    if lowered.endswith(".csv"):
        return "csv"
    raise BadInput(f"cannot tell the format of {name!r} from its name: give --input-format jsonl or csv")


def resolve_default_workspace(sink_db: Any, key: str | None) -> str | None:
    """The id of the `-w` workspace. Raises NotFound, DatabaseUnavailable."""
    if key is None:
        return None
    from atlas_cli.db import events as sql

    with sink_db.connect() as conn:
        found = sql.workspace_ids(conn, [key]).get(key)
    if found is None:
        raise NotFound(f"workspace {key!r} not found (give its id or slug; `atlas workspace list`)")
    return found
