"""`atlas usage record|ingest|aggregate|verify|export`: usage events in and out.

Registered on the `usage` app when this module is imported (by cli/main.py).
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, BinaryIO

import typer

from atlas_cli.cli.choices import EVENT_TYPES, ExportFormat, InputFormat, Periods
from atlas_cli.cli.options import DAYS, EndOpt, FormatOpt, JsonOpt, StartOpt, TzOpt, WorkspaceOpt
from atlas_cli.cli.runtime import Runtime
from atlas_cli.cli.usage import app
from atlas_cli.errors import BadInput

if TYPE_CHECKING:
    from atlas_cli.services.ingestion.ingest import IngestOptions, StopRequest

AllOpt = Annotated[bool, typer.Option("--all", help="Every workspace (instead of -w).")]
SinceOpt = Annotated[
    str | None,
    typer.Option(
        "--start", "--since", help=f"First day: {DAYS}; default: start of the previous month.", show_default=False
    ),
]
PeriodOpt = Annotated[Periods, typer.Option("--period", "-p", help="Days, months or both.", case_sensitive=False)]


@app.command("record")
def record(
    ctx: typer.Context,
    event_type: Annotated[
        str,
        typer.Option(
            "--type",
            "-t",
            help="The event type.",
            metavar="<query|token|login>",
            autocompletion=lambda incomplete: [t for t in EVENT_TYPES if t.startswith(incomplete)],
            show_default=False,
        ),
    ],
    quantity: Annotated[int, typer.Option("--quantity", "-q", help="A positive integer.")] = 1,
    user: Annotated[str | None, typer.Option("--user", "-u", help="User id.", show_default=False)] = None,
    metadata: Annotated[str | None, typer.Option("--metadata", help="A JSON object.", show_default=False)] = None,
    event_id: Annotated[
        str | None,
        typer.Option("--id", help="The event's UUID (idempotency key); default: a new one.", show_default=False),
    ] = None,
    at: Annotated[str | None, typer.Option("--at", help="ISO 8601 time; default: now.", show_default=False)] = None,
    cost_usd: Annotated[
        str | None,
        typer.Option(
            "--cost-usd",
            help="The event's at-cost dollars, up to 6 decimals (databases with usage_events.gateway_cost_usd).",
            show_default=False,
        ),
    ] = None,
    workspace: WorkspaceOpt = None,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Record one usage event. Recording the same --id again is reported as a duplicate, not counted.

    Examples:

    \b
      atlas usage record -w acme --type query --user u_42
      atlas usage record -w acme --type token --quantity 1200 --id 0190f7c4-9d1c-7cc2-8f5e-2b1f3e4a5d6c
      atlas usage record -w acme --type token --quantity 1200 --cost-usd 0.004213
    """
    rt: Runtime = ctx.obj
    with rt.services() as svc:
        result = svc.events.record(
            rt.workspace(workspace),
            event_type=event_type,
            quantity=quantity,
            user_id=user,
            metadata=metadata,
            event_id=event_id,
            at=at,
            cost_usd=cost_usd,
        )
    rt.render.record_result(result, rt.output_format(fmt, as_json))


@app.command("ingest")
def ingest(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="A file of events, or - for standard input.", metavar="FILE|-")],
    input_format: Annotated[
        InputFormat | None,
        typer.Option(
            "--input-format",
            help="Default: from the file name (stdin: jsonl).",
            show_default=False,
            case_sensitive=False,
        ),
    ] = None,
    workspace: WorkspaceOpt = None,
    flush_at: Annotated[int, typer.Option("--flush-at", help="Write a batch when this many events wait.")] = 1000,
    flush_interval: Annotated[
        int, typer.Option("--flush-interval", help="...or when the first has waited this many milliseconds.")
    ] = 1000,
    rejects: Annotated[
        Path | None,
        typer.Option(
            "--rejects",
            help="Write rejected lines here, each after a '# line N: reason' "
            "comment; fix them and ingest the file again.",
            show_default=False,
        ),
    ] = None,
    spool: Annotated[
        Path | None,
        typer.Option(
            "--spool",
            help="Where events go if the database keeps failing; default: beside "
            "FILE, or in the data directory for stdin.",
            show_default=False,
        ),
    ] = None,
    max_line_bytes: Annotated[
        int, typer.Option("--max-line-bytes", help="A longer line is rejected (its bytes are skipped, not kept).")
    ] = 1 << 20,
    as_json: JsonOpt = False,
) -> None:
    """Ingest usage events from JSON lines or CSV, in batches, each event once.

    Fields: id, workspace_id (or -w), user_id, event_type, quantity, metadata, created_at, and
    cost_usd where the database records event costs (per-seat: usage_events.gateway_cost_usd).
    The id (a UUID) is the idempotency key: ingesting a file again, or a spool file after a
    failure, never counts an event twice. An event without id gets a new time-ordered one, so
    it cannot be recognised if sent again (the report counts them). Lines starting with # and
    blank lines are skipped. Bad lines are rejected with their line number and never stop the
    good ones. If the database fails 5 times in a row, the events not written go to a spool
    file to ingest later. A line cut short by Ctrl-C/SIGTERM is not read: a file's is read by
    the next run, stdin's is kept as read in the spool file.

    Exit codes: 0 all ingested; 2 some lines rejected; 7 database failed (events spooled);
    130/143 stopped by Ctrl-C/SIGTERM (the waiting batch was written first).

    Examples:

    \b
      atlas usage ingest events.jsonl --rejects rejects.jsonl
      tail -f events.jsonl | atlas usage ingest - --flush-interval 500
    """
    rt: Runtime = ctx.obj
    with (
        rt.services() as svc,
        _input(source) as stream,
        _stop_on_signals() as stop,
        rt.render.ingest_progress() as progress,
    ):
        opts = _ingest_options(
            rt, source, input_format, rt.workspace(workspace), flush_at, flush_interval, rejects, spool, max_line_bytes
        )
        report = svc.events.ingest(
            stream, opts, stop=stop, progress=progress, on_reject=rt.render.rejection_printer(rejects)
        )
    rt.render.ingest_report(report, as_json or rt.fmt == "json")
    rt.exit(report.exit_code)


def _ingest_options(
    rt: Runtime,
    source: str,
    input_format: str | None,
    workspace: str | None,
    flush_at: int,
    flush_interval: int,
    rejects: Path | None,
    spool: Path | None,
    max_line_bytes: int,
) -> IngestOptions:
    from atlas_cli.services.ingestion.ingest import IngestOptions, format_for

    spool = spool or _default_spool(rt, source)
    if source != "-":
        for path, option in ((rejects, "--rejects"), (spool, "--spool")):
            if path is not None and path.resolve() == Path(source).resolve():
                raise BadInput(f"{option} must not be the input file")
    return IngestOptions(
        input_format=format_for(source, input_format),
        workspace=workspace,
        flush_at=flush_at,
        flush_interval=flush_interval / 1000,
        rejects=rejects,
        spool=spool,
        read_rest=source != "-",
        keep_incomplete=source == "-",
        max_line_bytes=max_line_bytes,
    )


def _default_spool(rt: Runtime, source: str) -> Path:
    """Beside FILE; for stdin, or a FILE in a directory that cannot be written, in the data directory."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    if source != "-" and os.access(Path(source).resolve().parent, os.W_OK):
        return Path(f"{source}.{stamp}.spool.jsonl")
    from atlas_cli.config import data_dir

    name = f"ingest-{stamp}" if source == "-" else f"{Path(source).name}.{stamp}"
    return data_dir(rt.settings) / "spool" / f"{name}.spool.jsonl"


@contextmanager
def _input(source: str) -> Iterator[BinaryIO]:
    if source == "-":
        yield sys.stdin.buffer
        return
    try:
        handle = open(source, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise BadInput(f"cannot read {source}: {exc.strerror}") from None
    with handle:
        yield handle


@contextmanager
def _stop_on_signals() -> Iterator[StopRequest]:
    """SIGINT and SIGTERM ask the ingestion to write what waits and end (main thread only)."""
    from atlas_cli.services.ingestion.ingest import StopRequest

    stop = StopRequest()
    previous: dict[signal.Signals, Any] = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            previous[signum] = signal.signal(signum, lambda number, _frame: stop.set(number))
        except ValueError:  # not the main thread: leave the signals alone
            break
    try:
        yield stop
    finally:
        for restored, handler in previous.items():
            signal.signal(restored, handler)


@app.command("aggregate")
def aggregate(
    ctx: typer.Context,
    workspace: WorkspaceOpt = None,
    every: AllOpt = False,
    since: SinceOpt = None,
    end: EndOpt = None,
    period: PeriodOpt = "both",
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Recompute usage summaries from raw events (for late events; safe to run from cron).

    Every daily and/or monthly period from --since to now is recomputed in one set-based
    statement per period kind, for one workspace or --all, and upserted into usage_summaries.

    Examples:

    \b
      atlas usage aggregate --all
      atlas usage aggregate -w acme --since 2026-01-01 --period daily
    """
    rt: Runtime = ctx.obj
    with rt.services() as svc:
        report = svc.events.aggregate(
            workspace if every else rt.workspace(workspace), every=every, since=since, period=period, end=end
        )
    rt.render.aggregate_report(report, rt.output_format(fmt, as_json))


@app.command("verify")
def verify(
    ctx: typer.Context,
    workspace: WorkspaceOpt = None,
    every: AllOpt = False,
    since: SinceOpt = None,
    end: EndOpt = None,
    period: PeriodOpt = "both",
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Compare usage_summaries with the raw events and list every mismatch (reads only).

    A stored row that differs from the events is a mismatch, and so is a period with events but
    no stored row; a period with neither is not. Exit code 4 when there is any mismatch.

    Examples:

    \b
      atlas usage verify --all --since 2026-01-01 || atlas usage aggregate --all --since 2026-01-01
    """
    rt: Runtime = ctx.obj
    with rt.services() as svc:
        report = svc.events.verify(
            workspace if every else rt.workspace(workspace), every=every, since=since, period=period, end=end
        )
    rt.render.verify_report(report, rt.output_format(fmt, as_json))
    rt.exit(4 if report.mismatches else 0)


@app.command("export")
def export(
    ctx: typer.Context,
    workspace: WorkspaceOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    fmt: Annotated[
        ExportFormat | None,
        typer.Option(
            "--format",
            "-f",
            help="ndjson or csv; default: the global --format (csv, else ndjson).",
            show_default=False,
            case_sensitive=False,
        ),
    ] = None,
    fetch_size: Annotated[
        int, typer.Option("--fetch-size", help="Rows per round trip (SQLite; PostgreSQL streams through COPY).")
    ] = 2000,
    tz: TzOpt = None,
) -> None:
    """Stream raw events, oldest first, to stdout; memory stays flat however many rows.

    Without -w, every workspace's events. The output is what `atlas usage ingest` reads; where
    the database records event costs, each event carries its cost_usd. --tz sets whose days
    --start and --end are; the events' times stay UTC.

    Examples:

    \b
      atlas usage export -w acme --start 2026-01-01 --end 2026-01-31 --format csv > jan.csv
    """
    rt: Runtime = ctx.obj
    zone = rt.zone(tz)
    with rt.services() as svc, rt.render.event_writer(_export_format(rt, fmt)) as out:
        if fetch_size < 1:
            raise BadInput("--fetch-size must be at least 1")
        count = svc.events.export(
            rt.workspace(workspace),
            start=start,
            end=end,
            emit=out.row,
            fields=out.fields,
            fetch=fetch_size,
            zone=zone,
            lines=(out.fmt, out.lines),
        )
    rt.render.note(f"Exported {count:,} event(s).")


EXPORT_FORMATS = {"ndjson": "ndjson", "json": "ndjson", "table": "ndjson", "csv": "csv"}


def _export_format(rt: Runtime, local: str | None) -> str:
    """The export's own --format, else the global one (or ATLAS_FORMAT): csv is CSV; json, and
    table (which has no meaning for a stream of events), are ndjson."""
    chosen = (local or rt.fmt or rt.settings.atlas_format or "ndjson").strip().lower()
    if chosen not in EXPORT_FORMATS:
        raise BadInput(f"--format: {chosen!r} is not one of ndjson, csv")
    return EXPORT_FORMATS[chosen]
