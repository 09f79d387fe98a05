"""`atlas trial`: trial state."""

from __future__ import annotations

import typer

from atlas_cli.cli.options import FormatOpt, JsonOpt, WorkspaceOpt
from atlas_cli.cli.runtime import Runtime
from atlas_cli.errors import ExitCode

app = typer.Typer(help="Trials.", no_args_is_help=True)


@app.command("status")
def status(ctx: typer.Context, workspace: WorkspaceOpt = None, fmt: FormatOpt = None, as_json: JsonOpt = False) -> None:
    """Show the effective trial end, days left and whether it expired (exit 13 when expired)."""
    rt: Runtime = ctx.obj
    with rt.services() as svc:
        report = svc.trial.status(rt.workspace(workspace))
    rt.render.trial_report(report, rt.output_format(fmt, as_json))
    rt.exit(ExitCode.CHECK_TRIAL_EXPIRED if report.state.expired else 0)
