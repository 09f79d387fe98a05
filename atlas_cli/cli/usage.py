"""`atlas usage`: the current period, history and per-user breakdown."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from atlas_cli.cli.choices import Period, Sort
from atlas_cli.cli.options import EndOpt, FormatOpt, JsonOpt, StartOpt, TzOpt, WorkspaceOpt
from atlas_cli.cli.runtime import Runtime

if TYPE_CHECKING:
    from atlas_cli.services.standing import WatchSnapshot

app = typer.Typer(help="Usage against the plan's limits: now, over time, per user.", no_args_is_help=True)


@app.command("show")
def show(
    ctx: typer.Context,
    workspace: WorkspaceOpt = None,
    tz: TzOpt = None,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show the current billing period's usage against the plan's limits.

    Examples:

    \b
      atlas usage show -w acme
      atlas usage show -w acme --json
    """
    rt: Runtime = ctx.obj
    rt.zone(tz)
    with rt.services() as svc:
        report = svc.usage.current(rt.workspace(workspace))
    rt.render.usage_report(report, rt.output_format(fmt, as_json))


@app.command("history")
def history(
    ctx: typer.Context,
    workspace: WorkspaceOpt = None,
    period: Annotated[Period, typer.Option("--period", "-p", help="Days or months.", case_sensitive=False)] = "monthly",
    start: StartOpt = None,
    end: EndOpt = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="Most periods to show, 1-365.")] = 90,
    recompute: Annotated[
        bool, typer.Option("--recompute", help="Recompute every period from raw events, stored or not.")
    ] = False,
    tz: TzOpt = None,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show usage per day or month, newest first.

    A closed period whose stored summary was computed after it closed (plus one hour) is read
    from usage_summaries; every other one (the current period, one never computed, one atlas
    wrote a late event into) is recomputed from raw events and stored (with a read-only
    database role: shown, not stored). Events written behind atlas's back need `usage aggregate`
    (`usage verify` finds them). The range never reaches before the workspace's creation. With
    --tz (or ATLAS_TZ) other than UTC, the periods are that zone's days or months, computed from
    the events and shown, never stored.

    Examples:

    \b
      atlas usage history -w acme --period daily --limit 30
      atlas usage history -w acme --start 2026-01-01 --end 2026-06-30 --json
      atlas usage history -w acme --recompute
      atlas usage history -w acme --period daily --since 7d --tz America/New_York
    """
    rt: Runtime = ctx.obj
    zone = rt.zone(tz)
    with rt.services() as svc:
        report = svc.usage.history(
            rt.workspace(workspace),
            period=period,
            start=start,
            end=end,
            limit=limit,
            recompute=recompute,
            zone=zone,
        )
    rt.render.history_report(report, rt.output_format(fmt, as_json))
    if report.note:
        rt.render.note(report.note)


@app.command("breakdown")
def breakdown(
    ctx: typer.Context,
    workspace: WorkspaceOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="Most users to show, 1-500.")] = 100,
    sort: Annotated[Sort, typer.Option("--sort", help="Order, largest first.", case_sensitive=False)] = "queries",
    tz: TzOpt = None,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show usage per user (default: the current billing period).

    Examples:

    \b
      atlas usage breakdown -w acme --sort tokens --limit 50
      atlas usage breakdown -w acme --since 2w --tz Asia/Tokyo
    """
    rt: Runtime = ctx.obj
    zone = rt.zone(tz)
    with rt.services() as svc:
        report = svc.usage.breakdown(rt.workspace(workspace), start=start, end=end, limit=limit, sort=sort, zone=zone)
    rt.render.breakdown_report(report, rt.output_format(fmt, as_json))


@app.command("watch")
def watch(
    ctx: typer.Context,
    workspace: WorkspaceOpt = None,
    every: Annotated[bool, typer.Option("--all", help="Every workspace that is not deleted (instead of -w).")] = False,
    interval: Annotated[str, typer.Option("--interval", "-i", help="Time between refreshes: 5s, 500ms, 1m.")] = "5s",
    tz: TzOpt = None,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Watch usage against limits, redrawn in place until Ctrl-C (which exits 0).

    When stdout is not a terminal, or with --format json/csv, prints one snapshot and exits.

    Examples:

    \b
      atlas usage watch -w acme
      atlas usage watch --all --interval 30s
      atlas usage watch --all --json > now.json
    """
    rt: Runtime = ctx.obj
    from atlas_cli.services import inputs

    rt.zone(tz)
    chosen = rt.output_format(fmt, as_json)
    with rt.errors():
        seconds = inputs.parse_interval(interval)
    try:
        with rt.services() as svc:

            def snapshot() -> WatchSnapshot:
                return svc.usage.watch(rt.workspace(workspace), every=every)

            if chosen != "table" or not rt.is_terminal():
                rt.render.watch_snapshot(snapshot(), chosen, single=not every)
                return
            import time

            rt.render.watch_live(snapshot, interval=seconds, sleep=rt.sleep or time.sleep)
    except KeyboardInterrupt:
        raise typer.Exit(0) from None
