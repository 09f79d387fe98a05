"""`atlas audit`: who changed what, and when."""

from __future__ import annotations

from typing import Annotated

import typer

from atlas_cli.cli.options import FormatOpt, JsonOpt, WorkspaceOpt
from atlas_cli.cli.runtime import Runtime

app = typer.Typer(help="The audit log of changes made with atlas.", no_args_is_help=True)


@app.command("list")
def list_(
    ctx: typer.Context,
    workspace: WorkspaceOpt = None,
    since: Annotated[
        str | None, typer.Option("--since", help="From this day on, YYYY-MM-DD (UTC).", show_default=False)
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many rows (1-1000).")] = 50,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List audit rows, newest first (all workspaces unless -w is given).

    Examples:

    \b
      atlas audit list -w acme --since 2026-11-01 --json
    """
    rt: Runtime = ctx.obj
    from atlas_cli.services import inputs

    with rt.services() as svc:
        entries = svc.admin.audit(
            rt.workspace(workspace),
            since=inputs.parse_date(since, "--since"),
            limit=inputs.bounded(limit, "--limit", high=1000),
        )
    rt.render.audit_list(entries, rt.output_format(fmt, as_json))
