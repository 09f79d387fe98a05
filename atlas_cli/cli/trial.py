"""`atlas trial`: trial state."""

from __future__ import annotations

import typer

from atlas_cli.cli.options import FormatOpt, JsonOpt, TzOpt, WorkspaceOpt
from atlas_cli.cli.runtime import Runtime
from atlas_cli.errors import ExitCode

app = typer.Typer(help="Trials.", no_args_is_help=True)


@app.command("status")
def status(
    ctx: typer.Context,
    workspace: WorkspaceOpt = None,
    tz: TzOpt = None,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show the effective trial end, days left and whether it expired (exit 13 when expired).

    Without a workspace (no -w, no ATLAS_WORKSPACE), list every trial as `trial list` does.
    """
    rt: Runtime = ctx.obj
    rt.zone(tz)
    named = rt.workspace(workspace)
    if not named:
        _list(rt, fmt, as_json)
        return
    with rt.services() as svc:
        report = svc.trial.status(named)
    rt.render.trial_report(report, rt.output_format(fmt, as_json))
    rt.exit(ExitCode.CHECK_TRIAL_EXPIRED if report.state.expired else 0)


@app.command("list")
def list_(ctx: typer.Context, tz: TzOpt = None, fmt: FormatOpt = None, as_json: JsonOpt = False) -> None:
    """List every workspace on a trial plan (not deleted), the trial ending soonest first.

    Examples:

    \b
      atlas trial list --json
      atlas trial list --tz America/Chicago
    """
    ctx.obj.zone(tz)
    _list(ctx.obj, fmt, as_json)


def _list(rt: Runtime, fmt: str | None, as_json: bool) -> None:
    with rt.services() as svc:
        reports = svc.trial.list()
    rt.render.trial_list(reports, rt.output_format(fmt, as_json))


# --- billing operations -----------------------------------------------------------------

from typing import Annotated  # noqa: E402

from atlas_cli.cli.admin_options import ActorOpt, DryRunOpt, actor_of  # noqa: E402

DaysOpt = Annotated[int, typer.Option("--days", help="Length in days (1-365).")]


@app.command("start")
def start(
    ctx: typer.Context,
    days: DaysOpt = 14,
    workspace: WorkspaceOpt = None,
    actor: ActorOpt = None,
    dry_run: DryRunOpt = False,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Put the workspace on a trial ending DAYS from now (refused on a running trial or a paid tier).

    On a per-seat database, one trial per user: refused when an owner had a trial on another workspace.

    Examples:

    \b
      atlas trial start -w acme --days 30 --as admin@acme.test
    """
    rt: Runtime = ctx.obj
    with rt.services() as svc:
        result = svc.billing_ops.trial_start(
            rt.workspace(workspace), days=days, actor=actor_of(rt, actor), dry_run=dry_run
        )
    rt.render.change_result(result, rt.output_format(fmt, as_json))


@app.command("extend")
def extend(
    ctx: typer.Context,
    days: Annotated[int, typer.Option("--days", help="Days to add (1-365).")],
    workspace: WorkspaceOpt = None,
    actor: ActorOpt = None,
    dry_run: DryRunOpt = False,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Move the trial's end DAYS later, counted from the later of now and the current end."""
    rt: Runtime = ctx.obj
    with rt.services() as svc:
        result = svc.billing_ops.trial_extend(
            rt.workspace(workspace), days=days, actor=actor_of(rt, actor), dry_run=dry_run
        )
    rt.render.change_result(result, rt.output_format(fmt, as_json))


@app.command("end")
def end(
    ctx: typer.Context,
    workspace: WorkspaceOpt = None,
    actor: ActorOpt = None,
    dry_run: DryRunOpt = False,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """End the trial now: the tier stays trial, so Atlas blocks the workspace as an expired trial."""
    rt: Runtime = ctx.obj
    with rt.services() as svc:
        result = svc.billing_ops.trial_end(rt.workspace(workspace), actor=actor_of(rt, actor), dry_run=dry_run)
    rt.render.change_result(result, rt.output_format(fmt, as_json))
