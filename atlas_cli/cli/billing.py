"""`atlas billing`: plan status and the enforcement check."""

from __future__ import annotations

from typing import Annotated

import typer

from atlas_cli.cli.options import FormatOpt, JsonOpt, WorkspaceOpt
from atlas_cli.cli.runtime import Runtime

app = typer.Typer(help="Billing state and enforcement.", no_args_is_help=True)


@app.command("status")
def status(ctx: typer.Context, workspace: WorkspaceOpt = None, fmt: FormatOpt = None, as_json: JsonOpt = False) -> None:
    """Show the plan, limits, usage per dimension and the subscription."""
    rt: Runtime = ctx.obj
    with rt.services() as svc:
        report = svc.billing.status(rt.workspace(workspace))
    rt.render.billing_status(report, rt.output_format(fmt, as_json))


@app.command("check")
def check(
    ctx: typer.Context,
    workspace: WorkspaceOpt = None,
    fail_on: Annotated[
        str | None,
        typer.Option("--fail-on", help="Also exit non-zero at this tier: warning (10) or soft (11).",
                     show_default=False),
    ] = None,
    resource: Annotated[
        str | None,
        typer.Option("--resource", help="Instead: may one more of members or connections be added?",
                     show_default=False),
    ] = None,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Decide whether the workspace may keep using Atlas, as the server enforces it.

    Exit codes: 0 allowed, 10 warning and 11 soft limit (only with --fail-on), 12 hard limit,
    13 trial expired, 14 billing check failed, 15 subscription required.

    Examples:
      atlas billing check -w acme --fail-on soft
      atlas billing check -w acme --resource members
    """
    rt: Runtime = ctx.obj
    with rt.services() as svc:
        report = svc.billing.check(rt.workspace(workspace), fail_on=fail_on, resource=resource)
    rt.render.check_report(report, rt.output_format(fmt, as_json))
    rt.exit(report.exit_code)
