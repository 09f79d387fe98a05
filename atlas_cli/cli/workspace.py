"""`atlas workspace`: the workspaces and where each stands."""

from __future__ import annotations

from typing import Annotated

import typer

from atlas_cli.cli.options import FormatOpt, JsonOpt, WorkspaceOpt
from atlas_cli.cli.runtime import Runtime

app = typer.Typer(help="Workspaces (organizations).", no_args_is_help=True)


@app.command("list")
def list_(ctx: typer.Context, fmt: FormatOpt = None, as_json: JsonOpt = False) -> None:
    """List every workspace with its tier, status, BYOT and trial end."""
    rt: Runtime = ctx.obj
    with rt.services() as svc:
        workspaces = svc.workspaces.list()
    rt.render.workspace_list(workspaces, rt.output_format(fmt, as_json))


@app.command("show")
def show(
    ctx: typer.Context,
    key: Annotated[str | None, typer.Argument(metavar="[WORKSPACE]", help="Id or slug.", show_default=False)] = None,
    workspace: WorkspaceOpt = None,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show one workspace: plan, members and connections against limits, Stripe customer."""
    rt: Runtime = ctx.obj
    with rt.services() as svc:
        detail = svc.workspaces.show(key or rt.workspace(workspace))
    rt.render.workspace_detail(detail, rt.output_format(fmt, as_json))
