"""`atlas workspace`: the workspaces and where each stands."""

from __future__ import annotations

from typing import Annotated

import typer

from atlas_cli.cli import completion
from atlas_cli.cli.options import FormatOpt, JsonOpt, WorkspaceOpt
from atlas_cli.cli.runtime import Runtime

app = typer.Typer(help="Workspaces (organizations).", no_args_is_help=True)


@app.command("list")
def list_(ctx: typer.Context, fmt: FormatOpt = None, as_json: JsonOpt = False) -> None:
    """List every workspace with its tier, status, BYOT and trial end."""
    rt: Runtime = ctx.obj
    rt.zone()  # the global --tz or ATLAS_TZ
    with rt.services() as svc:
        workspaces = svc.workspaces.list()
    rt.render.workspace_list(workspaces, rt.output_format(fmt, as_json))


@app.command("show")
def show(
    ctx: typer.Context,
    key: Annotated[
        str | None,
        typer.Argument(
            metavar="[WORKSPACE]", help="Id or slug.", show_default=False, autocompletion=completion.workspaces
        ),
    ] = None,
    workspace: WorkspaceOpt = None,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show one workspace: plan, members and connections against limits, Stripe customer."""
    rt: Runtime = ctx.obj
    rt.zone()  # the global --tz or ATLAS_TZ
    with rt.services() as svc:
        detail = svc.workspaces.show(key or rt.workspace(workspace))
    rt.render.workspace_detail(detail, rt.output_format(fmt, as_json))


# --- billing operations -----------------------------------------------------------------

from atlas_cli.cli.admin_options import ActorOpt, DryRunOpt, actor_of  # noqa: E402


@app.command("set-plan")
def set_plan(
    ctx: typer.Context,
    tier: Annotated[
        str,
        typer.Argument(
            metavar="TIER",
            autocompletion=completion.tiers,
            help=(
                "A tier of the database's billing model: free, trial, team, enterprise (classic) or free, "
                "trial, starter, pro, business (per-seat); locked where the plan_tier constraint has it."
            ),
        ),
    ],
    workspace: WorkspaceOpt = None,
    actor: ActorOpt = None,
    dry_run: DryRunOpt = False,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Override a workspace's plan tier (audited; exit 4 for a deleted workspace).

    On a per-seat database it also holds the tier against Stripe for 90 days (plan_override_until).

    Examples:

    \b
      atlas workspace set-plan enterprise -w acme --as admin@acme.test --dry-run
    """
    rt: Runtime = ctx.obj
    with rt.services() as svc:
        result = svc.billing_ops.set_plan(rt.workspace(workspace), tier, actor=actor_of(rt, actor), dry_run=dry_run)
    rt.render.change_result(result, rt.output_format(fmt, as_json))
