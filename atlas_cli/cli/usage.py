"""`atlas usage`: the current period, history and per-user breakdown."""

from __future__ import annotations

from typing import Annotated

import typer

from atlas_cli.cli.choices import Period, Sort
from atlas_cli.cli.options import EndOpt, FormatOpt, JsonOpt, StartOpt, WorkspaceOpt
from atlas_cli.cli.runtime import Runtime

app = typer.Typer(help="Usage against the plan's limits: now, over time, per user.", no_args_is_help=True)


@app.command("show")
def show(ctx: typer.Context, workspace: WorkspaceOpt = None, fmt: FormatOpt = None, as_json: JsonOpt = False) -> None:
    """Show the current billing period's usage against the plan's limits.

    Examples:

    \b
      atlas usage show -w acme
      atlas usage show -w acme --json
    """
    rt: Runtime = ctx.obj
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
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show usage per day or month, newest first.

    A closed period whose stored summary was computed after it closed (plus one hour) is read
    from usage_summaries; every other one (the current period, one never computed, one atlas
    wrote a late event into) is recomputed from raw events and stored (with a read-only
    database role: shown, not stored). Events written behind atlas's back need `usage aggregate`
    (`usage verify` finds them). The range never reaches before the workspace's creation.

    Examples:

    \b
      atlas usage history -w acme --period daily --limit 30
      atlas usage history -w acme --start 2026-01-01 --end 2026-06-30 --json
      atlas usage history -w acme --recompute
    """
    rt: Runtime = ctx.obj
    with rt.services() as svc:
        report = svc.usage.history(
            rt.workspace(workspace), period=period, start=start, end=end, limit=limit, recompute=recompute
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
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show usage per user (default: the current billing period).

    Examples:

    \b
      atlas usage breakdown -w acme --sort tokens --limit 50
    """
    rt: Runtime = ctx.obj
    with rt.services() as svc:
        report = svc.usage.breakdown(rt.workspace(workspace), start=start, end=end, limit=limit, sort=sort)
    rt.render.breakdown_report(report, rt.output_format(fmt, as_json))
