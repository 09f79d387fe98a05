"""`atlas audit`: who changed what, and when."""

from __future__ import annotations

from typing import Annotated

import typer

from atlas_cli.cli.options import EndOpt, FormatOpt, JsonOpt, StartOpt, TzOpt, WorkspaceOpt
from atlas_cli.cli.runtime import Runtime

app = typer.Typer(help="The audit log of changes made with atlas.", no_args_is_help=True)


@app.command("list")
def list_(
    ctx: typer.Context,
    workspace: WorkspaceOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many rows (1-1000).")] = 50,
    tz: TzOpt = None,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List audit rows, newest first (all workspaces unless -w is given).

    Examples:

    \b
      atlas audit list -w acme --since 2026-11-01 --json
      atlas audit list --since 7d
    """
    rt: Runtime = ctx.obj
    zone = rt.zone(tz)
    with rt.services() as svc:
        entries = svc.admin.audit(rt.workspace(workspace), start=start, end=end, limit=limit, zone=zone)
    rt.render.audit_list(entries, rt.output_format(fmt, as_json))
