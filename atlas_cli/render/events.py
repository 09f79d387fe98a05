"""Output of usage events in and out: record, ingest, aggregate, verify, export."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from atlas_cli.render.base import Output, csv_cell, iso, json_number, json_text


class EventViews(Output):
    """Recorded events, the ingest report, aggregation, verification and the export stream."""

    @staticmethod
    def record_json(r: Any) -> dict[str, Any]:
        """`usage record`: {"id", "workspaceId", "eventType", "quantity", "createdAt", "duplicate"}."""
        return {
            "id": r.id,
            "workspaceId": r.workspace_id,
            "eventType": r.event_type,
            "quantity": r.quantity,
            "createdAt": iso(r.created_at),
            "duplicate": r.duplicate,
            "userId": r.user_id,
            "generatedId": r.generated_id,
        } | ({"costUsd": None if r.cost_usd is None else json_number(r.cost_usd)} if r.costs else {})

    def record_result(self, r: Any, fmt: str) -> None:
        data = self.record_json(r)

        def text() -> None:
            if r.duplicate:
                self.out.print(f"Duplicate: event {r.id} was already recorded; not counted again.")
            else:
                self.out.print(f"Recorded {r.event_type} x{r.quantity:,} for {r.workspace_id} (id {r.id}).")

        header = ["id", "workspaceId", "eventType", "quantity", "createdAt", "duplicate"]
        self._emit(fmt, data, header, [[data[k] for k in header]], text)

    @staticmethod
    def ingest_json(r: Any) -> dict[str, Any]:
        import signal

        return {
            "lines": r.lines,
            "accepted": r.accepted,
            "duplicates": r.duplicates,
            "rejected": r.rejected,
            "generatedIds": r.generated_ids,
            "spooled": r.spooled,
            "spoolFile": str(r.spool_file) if r.spool_file else None,
            "rejectsFile": str(r.rejects_file) if r.rejects_file else None,
            "stoppedBy": signal.Signals(r.signal).name if r.signal else None,
            "failure": r.failure,
            "exitCode": r.exit_code,
            "rejections": [{"line": x.line, "reason": x.reason} for x in r.rejections],
            "incompleteLine": None
            if r.incomplete is None
            else {
                "line": r.incomplete.line,
                "bytes": r.incomplete.size,
                "keptIn": str(r.incomplete.kept_in) if r.incomplete.kept_in else None,
            },
        }

    def rejection_printer(self, rejects_file: Any, shown: int = 10) -> Callable[[Any], None]:
        """Prints each rejected line on stderr; with a rejects file, only the first `shown`."""
        printed = [0]

        def show(x: Any) -> None:
            if rejects_file is None or printed[0] < shown:
                self.warn(f"line {x.line}: {x.reason}")
            printed[0] += 1

        return show

    @contextmanager
    def ingest_progress(self) -> Iterator[Callable[[int, int | None, int], None] | None]:
        """Ingest progress on stderr when it is a terminal (nothing otherwise): events read,
        events/s and, for a file, how far through it and the time left.

        Redrawn by the caller's updates (at most 10 times a second), not by a thread of its own:
        ingestion may fork a writer process, and forking is only safe without other threads."""
        if self.quiet or not sys.stderr.isatty():
            yield None
            return
        import time

        from rich.progress import BarColumn, Progress, TextColumn

        with Progress(
            TextColumn("Ingesting"),
            BarColumn(),
            TextColumn("{task.description}"),
            console=self.err,
            transient=True,
            auto_refresh=False,
        ) as bar:
            task = bar.add_task("", total=None)
            started = time.monotonic()
            drawn = [0.0]

            def advance(done: int, total: int | None, events: int) -> None:
                now = time.monotonic()
                if now - drawn[0] < 0.1 and (total is None or done < total):
                    return
                drawn[0] = now
                text = ingest_progress_text(events, done, total, now - started)
                bar.update(task, description=text, completed=done, total=total)
                bar.refresh()

            yield advance

    def ingest_report(self, r: Any, as_json: bool) -> None:
        data = self.ingest_json(r)
        self.note(
            f"Read {r.lines:,} event line(s): {r.accepted:,} accepted, {r.duplicates:,} duplicate(s), "
            f"{r.rejected:,} rejected; {r.generated_ids:,} given a new id (not recognisable if sent again)."
        )
        if r.rejected and r.rejects_file:
            self.warn(f"Rejected lines, with reasons, are in {r.rejects_file}: fix them and ingest that file.")
        if data["stoppedBy"]:
            self.note(f"Stopped by {data['stoppedBy']} after writing the waiting batch.")
        cut = r.incomplete
        if cut is not None and cut.kept_in is not None:
            self.warn(
                f"Line {cut.line} was incomplete when reading stopped ({cut.size:,} bytes): not read, "
                f"kept as read in {cut.kept_in} (after a '# line {cut.line}' note) to complete by hand."
            )
        elif cut is not None:
            self.warn(
                f"Line {cut.line} was incomplete when reading stopped ({cut.size:,} bytes): not read; "
                "ingest the input again to read it (events already written count as duplicates)."
            )
        if r.failure:
            self.error(f"database failed, writing stopped after {r.accepted + r.duplicates:,} event(s): {r.failure}")
        if r.spooled:
            self.warn(
                f"{r.spooled:,} unwritten event(s) kept in {r.spool_file}; "
                f"run `atlas usage ingest {r.spool_file}` when the database is back (nothing is counted twice)."
            )
        if as_json:
            self.json(data)

    @staticmethod
    def aggregate_json(r: Any) -> dict[str, Any]:
        return {
            "workspaceId": r.workspace_id,
            "all": r.workspace_id is None,
            "since": iso(r.since),
            "until": iso(r.until),
            "rowsUpserted": r.rows,
            "periods": [{"period": k.period, "periods": k.periods, "rowsUpserted": k.rows} for k in r.kinds],
        }

    def aggregate_report(self, r: Any, fmt: str) -> None:
        data = self.aggregate_json(r)
        rows = [[k.period, k.periods, k.rows] for k in r.kinds]

        def text() -> None:
            scope = "every workspace" if r.workspace_id is None else r.workspace_id
            parts = ", ".join(f"{k.rows:,} {k.period}" for k in r.kinds)
            self.out.print(f"Recomputed summaries of {scope} since {iso(r.since)}: {parts} row(s) upserted.")

        self._emit(fmt, data, ["period", "periods", "rowsUpserted"], rows, text)

    @staticmethod
    def mismatch_json(m: Any) -> dict[str, Any]:
        names = ("query_count", "token_count", "active_users")
        return {
            "workspace_id": m.workspace_id,
            "period": m.period,
            "period_start": iso(m.period_start),
            "stored": None if m.stored is None else dict(zip(names, m.stored, strict=True)),
            "actual": dict(zip(names, m.actual, strict=True)),
        }

    @staticmethod
    def verify_json(r: Any) -> dict[str, Any]:
        return {
            "workspaceId": r.workspace_id,
            "all": r.workspace_id is None,
            "since": iso(r.since),
            "until": iso(r.until),
            "periods": list(r.periods),
            "ok": not r.mismatches,
            "mismatches": [EventViews.mismatch_json(m) for m in r.mismatches],
        }

    def verify_report(self, r: Any, fmt: str) -> None:
        header = [
            "workspace_id",
            "period",
            "period_start",
            "stored_query_count",
            "query_count",
            "stored_token_count",
            "token_count",
            "stored_active_users",
            "active_users",
        ]
        rows = []
        for m in r.mismatches:
            stored = m.stored or (None, None, None)
            rows.append(
                [
                    m.workspace_id,
                    m.period,
                    iso(m.period_start),
                    stored[0],
                    m.actual[0],
                    stored[1],
                    m.actual[1],
                    stored[2],
                    m.actual[2],
                ]
            )

        def table() -> None:
            if not r.mismatches:
                self.out.print(f"Summaries match the raw events ({', '.join(r.periods)}, since {iso(r.since)}).")
                return
            shown = []
            for row in rows:
                cells = [
                    f"{'missing' if s is None else f'{s:,}'} → {a:,}"
                    for s, a in ((row[3], row[4]), (row[5], row[6]), (row[7], row[8]))
                ]
                shown.append([row[0], row[1], (row[2] or "")[:10], *cells])
            columns = ["Workspace", "Period", "Start", "Queries", "Tokens", "Active users"]
            self._print_table(f"{len(r.mismatches):,} mismatch(es): stored → actual", columns, shown)

        self._emit(fmt, self.verify_json(r), header, rows, table)

    @contextmanager
    def event_writer(self, fmt: str) -> Iterator[EventStream]:
        """Writes raw events to stdout one at a time, as ndjson or csv (what ingest reads): the
        stream's `fields` first (FIELDS, then cost_usd where the database records costs), then
        each `row` of those fields, in order."""
        if fmt not in ("ndjson", "csv"):
            from atlas_cli.errors import BadInput

            raise BadInput(f"--format: {fmt!r} is not one of ndjson, csv")
        stream = EventStream(fmt, sys.stdout)
        yield stream
        sys.stdout.flush()


class EventStream:
    """The export's output: `fields` says which fields the rows hold (once, first), `row` writes one."""

    def __init__(self, fmt: str, out: Any) -> None:
        self.fmt, self._out = fmt, out
        self._line: Callable[[Sequence[Any]], str] | None = None
        utf8 = (getattr(out, "encoding", None) or "").lower().replace("-", "") == "utf8"
        self._bytes = getattr(out, "buffer", None) if utf8 else None  # where ready lines go as they are
        self._pending = False  # text written to `out` and not yet flushed to `_bytes`

    def fields(self, names: Sequence[str]) -> None:
        from atlas_cli.domain.events import COST_FIELD

        costs = COST_FIELD in names
        if self.fmt == "ndjson":
            self._line = ndjson_formatter(costs=costs)
            return
        writer = csv.writer(self._out, lineterminator="\n")
        writer.writerow(names)
        self._pending = True
        self._line = csv_formatter(costs=costs)

    def row(self, values: Sequence[Any]) -> None:
        if self._line is None:  # a caller that did not say: the fields every database has
            from atlas_cli.domain.events import FIELDS

            self.fields(FIELDS)
        assert self._line is not None
        self._out.write(self._line(values))
        self._pending = True

    def lines(self, block: bytes) -> None:
        """Write lines already formatted (UTF-8), in order with the rows written before."""
        if self._bytes is None:
            self._out.write(block.decode("utf-8"))
            return
        if self._pending:  # what was written as text comes first
            self._out.flush()
            self._pending = False
        self._bytes.write(block)


def csv_formatter(*, costs: bool = False) -> Callable[[Sequence[Any]], str]:
    """A function turning one event (a row of FIELDS, then its cost with `costs`) into a CSV line."""
    import io

    from atlas_cli.domain.events import cost_text, iso_micro

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")

    def line(row: Sequence[Any]) -> str:
        id_, ws, user, kind, qty, meta, at = row[:7]
        metadata = "" if meta is None else csv_cell(json_text(meta))
        cells = [id_, csv_cell(ws), csv_cell(user), csv_cell(kind), qty, metadata, iso_micro(at)]
        if costs:
            cells.append("" if row[7] is None else cost_text(row[7]))
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(cells)
        return buffer.getvalue()

    return line


def ingest_progress_text(events: int, done: int, total: int | None, elapsed: float) -> str:
    """`12,000 events · 4,000 events/s · 40% · 0:00:05 left` (a file) or
    `12,000 events · 4,000 events/s · 1.2 MB read` (a stream)."""
    rate = events / elapsed if elapsed > 0 else 0.0
    parts = [f"{events:,} events", f"{rate:,.0f} events/s"]
    if total:
        parts.append(f"{min(done / total, 1.0):.0%}")
        if done and elapsed > 0:
            left = max(total - done, 0) * elapsed / done
            parts.append(f"{_clock(left)} left")
        else:
            parts.append("time left unknown")
    else:
        parts.append(f"{done / 1e6:,.1f} MB read")
    return " · ".join(parts)


def _clock(seconds: float) -> str:
    whole = int(seconds + 0.5)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def ndjson_formatter(*, costs: bool = False) -> Callable[[Sequence[Any]], str]:
    """A function turning one event (a row of FIELDS, in order) into a JSON line: the same text
    as `json.dumps` of its mapping with `ensure_ascii=False` and compact separators, built field
    by field (several times faster, for exports of millions of rows). With `costs`, the row's
    eighth value is the cost, written last as `"cost_usd"`: a JSON number with the Decimal's exact
    digits (json.dumps would go through a float), or null."""
    from json.encoder import encode_basestring as quoted

    from atlas_cli.domain.events import cost_text, iso_micro

    compact = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

    def line(row: Sequence[Any]) -> str:
        id_, ws, user, kind, qty, meta, at = row[:7]
        text = (
            f'{{"id":{quoted(id_)},"workspace_id":{quoted(ws)},'
            f'"user_id":{"null" if user is None else quoted(user)},"event_type":{quoted(kind)},'
            f'"quantity":{int(qty)},"metadata":{"null" if meta is None else compact(meta)},'
            f'"created_at":"{iso_micro(at)}"'
        )
        if costs:
            cost = row[7]
            return f'{text},"cost_usd":{"null" if cost is None else cost_text(cost)}}}\n'
        return text + "}\n"

    return line
