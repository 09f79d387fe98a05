"""`atlas workspace`: the workspaces and where each stands."""

from __future__ import annotations

from typing import Annotated

import typer

from atlas_cli.cli import completion
from atlas_cli.cli.options import FormatOpt, JsonOpt, WorkspaceOpt
from atlas_cli.cli.runtime import Runtime

app = typer.Typer(help="Workspaces (organizations).", no_args_is_help=True)


def _statuses(incomplete: str) -> list[str]:
    from atlas_cli.domain.listing import STATUSES

    return [s for s in STATUSES if s.startswith(incomplete)]


def _sorts(incomplete: str) -> list[str]:
    from atlas_cli.domain.listing import SORTS

    return [s for s in SORTS if s.startswith(incomplete)]


@app.command("list")
def list_(
    ctx: typer.Context,
    tier: Annotated[
        list[str] | None,
        typer.Option(
            "--tier", help="Only this tier (repeat for several).", show_default=False, autocompletion=completion.tiers
        ),
    ] = None,
    status: Annotated[
        str | None,
        typer.Option(
            "--status",
            help="Billing status at least this bad: ok, warning, soft_limit (metered), hard_limit; or exactly "
            "trial_expired, subscription_required, billing_check_failed.",
            show_default=False,
            autocompletion=_statuses,
        ),
    ] = None,
    byot: Annotated[
        bool | None,
        typer.Option("--byot/--no-byot", help="Only BYOT workspaces, or only the others.", show_default=False),
    ] = None,
    trial_ending: Annotated[
        str | None,
        typer.Option(
            "--trial-ending",
            metavar="SPAN",
            help="Only trials ending between now and SPAN from now (12h, 3d, 2w).",
            show_default=False,
        ),
    ] = None,
    sort: Annotated[
        str,
        typer.Option(
            "--sort",
            help="name, id, tier, status or usage (worst first), trial-end (soonest first), created.",
            autocompletion=_sorts,
        ),
    ] = "name",
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List workspaces: tier, status, BYOT, billing status, worst usage percent and trial end.

    Examples:

    \b
      atlas workspace list --status warning --sort usage
      atlas workspace list --tier trial --trial-ending 3d --json
    """
    rt: Runtime = ctx.obj
    rt.zone()  # the global --tz or ATLAS_TZ
    with rt.services() as svc:
        filters = svc.workspaces.filters(tiers=tier, status=status, byot=byot, trial_ending=trial_ending, sort=sort)
        rows = svc.workspaces.overview(filters)
    rt.render.workspace_list(rows, rt.output_format(fmt, as_json))


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
