"""`atlas entitlements`: may a workspace use a feature, its features, and per-workspace overrides."""

from __future__ import annotations

from typing import Annotated

import typer

from atlas_cli.cli.admin_options import ActorOpt, actor_of
from atlas_cli.cli.options import FormatOpt, JsonOpt, WorkspaceOpt
from atlas_cli.cli.runtime import Runtime

app = typer.Typer(help="Entitlements: features of a workspace's plan, checks and overrides.", no_args_is_help=True)

FeatureArg = Annotated[str, typer.Argument(metavar="FEATURE", help="A feature key: `entitlements list` names them.")]


@app.command("check")
def check(
    ctx: typer.Context,
    feature: FeatureArg,
    workspace: WorkspaceOpt = None,
    quantity: Annotated[int, typer.Option("--quantity", "-n", help="How many more to use.", min=1)] = 1,
    count: Annotated[
        int | None,
        typer.Option("--count", help="The current count of a limit feature (wins over its counter).", min=0),
    ] = None,
    event_type: Annotated[
        str | None,
        typer.Option("--event-type", help="A credit feature: N units of this event type, priced by its costs."),
    ] = None,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Decide whether the workspace may use N more of a feature now.

    Exit codes: 0 allowed, 12 limit, max usage or credits refuse, 13 trial expired, 14 billing check
    failed, 15 subscription required, 16 not entitled (or a limit with no counter), 3 unknown
    feature or workspace.

    Examples:

    \b
      atlas entitlements check -w acme data-explorer
      atlas entitlements check -w acme projects --count 4
      atlas entitlements check -w acme seats --quantity 3
      atlas entitlements check -w acme ai-credits --event-type token --quantity 5000
    """
    rt: Runtime = ctx.obj
    with rt.services() as svc:
        decision = svc.entitlements.check(rt.workspace(workspace), feature, quantity, count, event_type)
    rt.render.entitlement_decision(decision, rt.output_format(fmt, as_json))
    rt.exit(int(decision.exit_code))


@app.command("list")
def list_(ctx: typer.Context, workspace: WorkspaceOpt = None, fmt: FormatOpt = None, as_json: JsonOpt = False) -> None:
    """List every feature of the workspace's plan: value, where it comes from, and current use."""
    rt: Runtime = ctx.obj
    with rt.services() as svc:
        result = svc.entitlements.list(rt.workspace(workspace))
    rt.render.entitlement_list(result, rt.output_format(fmt, as_json))


@app.command("override")
def override(
    ctx: typer.Context,
    feature: FeatureArg,
    value: Annotated[
        str,
        typer.Option(
            "--value", help="true, false, unlimited or a number (a metered feature: its max usage).", show_default=False
        ),
    ],
    workspace: WorkspaceOpt = None,
    until: Annotated[
        str | None,
        typer.Option(
            "--until", help="End (exclusive): YYYY-MM-DD (midnight UTC) or an ISO 8601 time.", show_default=False
        ),
    ] = None,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why: kept in the audit log.", show_default=False)
    ] = None,
    actor: ActorOpt = None,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Give a workspace its own value of an operator feature, until a date or a clear (audited).

    Examples:

    \b
      atlas entitlements override -w acme projects --value 20 --until 2027-01-01 --as admin@acme.test
    """
    rt: Runtime = ctx.obj
    with rt.services() as svc:
        result = svc.entitlements.override(
            rt.workspace(workspace), feature, value, actor=actor_of(rt, actor), until=until, reason=reason
        )
    rt.render.override_result(result, rt.output_format(fmt, as_json))


@app.command("clear")
def clear(
    ctx: typer.Context,
    feature: FeatureArg,
    workspace: WorkspaceOpt = None,
    actor: ActorOpt = None,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """End a workspace's override of a feature: its plan's value applies again (audited)."""
    rt: Runtime = ctx.obj
    with rt.services() as svc:
        result = svc.entitlements.clear(rt.workspace(workspace), feature, actor=actor_of(rt, actor))
    rt.render.override_result(result, rt.output_format(fmt, as_json))
