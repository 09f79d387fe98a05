"""`atlas credits`: balances, the ledger, grants, voids, adjustments, allocation and verification."""

from __future__ import annotations

from typing import Annotated

import typer

from atlas_cli.cli.admin_options import ActorOpt, actor_of
from atlas_cli.cli.options import FormatOpt, JsonOpt, WorkspaceOpt
from atlas_cli.cli.runtime import Runtime

app = typer.Typer(help="Credits: balances, the ledger, grants and allocation of credit features.", no_args_is_help=True)

UnitArg = Annotated[str, typer.Argument(metavar="UNIT", help="A credit feature of the operator catalog.")]
OptionalUnit = Annotated[
    str | None, typer.Argument(metavar="[UNIT]", help="A credit feature (default: every one).", show_default=False)
]
KeyOpt = Annotated[
    str,
    typer.Option("--key", help="Idempotency key: the same key again changes nothing.", show_default=False),
]
ReasonOpt = Annotated[str | None, typer.Option("--reason", help="Why: kept in the ledger and the audit log.")]
AllOpt = Annotated[bool, typer.Option("--all", help="Every workspace.")]


@app.command("balance")
def balance(
    ctx: typer.Context, unit: OptionalUnit = None, workspace: WorkspaceOpt = None, fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:  # fmt: skip
    """Show the balance, overage and grants of a workspace's credits.

    Examples:

    \b
      atlas credits balance -w acme
      atlas credits balance -w acme ai-credits --json
    """
    rt: Runtime = ctx.obj
    with rt.services() as svc:
        report = svc.credits.balance(rt.workspace(workspace), unit)
    rt.render.credit_balance(report, rt.output_format(fmt, as_json))


@app.command("ledger")
def ledger(
    ctx: typer.Context,
    unit: OptionalUnit = None,
    workspace: WorkspaceOpt = None,
    since: Annotated[
        str | None, typer.Option("--since", help="From this day (YYYY-MM-DD) or time on.", show_default=False)
    ] = None,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List every ledger entry, newest first, with the balance after it.

    Examples:

    \b
      atlas credits ledger -w acme --since 2026-11-01 --format csv > credits.csv
    """
    rt: Runtime = ctx.obj
    with rt.services() as svc:
        report = svc.credits.ledger(rt.workspace(workspace), unit, since)
    rt.render.credit_ledger(report, rt.output_format(fmt, as_json))


@app.command("grant")
def grant(
    ctx: typer.Context,
    unit: UnitArg,
    amount: Annotated[int, typer.Argument(metavar="AMOUNT", help="Credits to grant (1 or more).")],
    key: KeyOpt,
    workspace: WorkspaceOpt = None,
    priority: Annotated[int, typer.Option("--priority", help="Burn order: lower is used first.")] = 100,
    expires: Annotated[
        str | None,
        typer.Option("--expires", help="Expiry (exclusive): YYYY-MM-DD or an ISO 8601 time.", show_default=False),
    ] = None,
    reason: ReasonOpt = None,
    actor: ActorOpt = None,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Grant credits to a workspace (they pay any overage first; audited).

    Examples:

    \b
      atlas credits grant -w acme ai-credits 500 --key promo-2026-11 --expires 2027-01-01 --as admin@acme.test
    """
    rt: Runtime = ctx.obj
    with rt.services() as svc:
        result = svc.credits.grant(
            rt.workspace(workspace), unit, amount, key=key, actor=actor_of(rt, actor), priority=priority,
            expires=expires, reason=reason,
        )  # fmt: skip
    rt.render.credit_change(result, rt.output_format(fmt, as_json))


@app.command("void")
def void(
    ctx: typer.Context,
    grant_id: Annotated[str, typer.Argument(metavar="GRANT", help="The grant's id (`credits balance`).")],
    key: KeyOpt,
    workspace: WorkspaceOpt = None,
    actor: ActorOpt = None,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Void a grant: what remains of it goes, what was used stays used (audited)."""
    rt: Runtime = ctx.obj
    with rt.services() as svc:
        result = svc.credits.void(rt.workspace(workspace), grant_id, key=key, actor=actor_of(rt, actor))
    rt.render.credit_change(result, rt.output_format(fmt, as_json))


@app.command("adjust", context_settings={"ignore_unknown_options": True})
def adjust(
    ctx: typer.Context,
    unit: UnitArg,
    amount: Annotated[int, typer.Argument(metavar="+/-AMOUNT", help="Credits to add (+N) or take (-N).")],
    key: KeyOpt,
    workspace: WorkspaceOpt = None,
    reason: ReasonOpt = None,
    actor: ActorOpt = None,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add or take credits by hand (audited).

    Examples:

    \b
      atlas credits adjust -w acme ai-credits -250 --key refund-4411 --reason "double charge"
    """
    rt: Runtime = ctx.obj
    with rt.services() as svc:
        result = svc.credits.adjust(
            rt.workspace(workspace), unit, amount, key=key, actor=actor_of(rt, actor), reason=reason
        )
    rt.render.credit_change(result, rt.output_format(fmt, as_json))


@app.command("allocate")
def allocate(
    ctx: typer.Context,
    workspace: WorkspaceOpt = None,
    every: AllOpt = False,
    at: Annotated[
        str | None,
        typer.Option("--at", help="Allocate for the period holding this time [default: now].", show_default=False),
    ] = None,
    actor: ActorOpt = None,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Grant each plan's allocation for the current period, once per period (for cron).

    Expires what has expired, and pays any overage first.

    Examples:

    \b
      atlas credits allocate --all --as ops@example.com
    """
    rt: Runtime = ctx.obj
    with rt.services() as svc:
        report = svc.credits.allocate(
            workspace if every else rt.workspace(workspace), every=every, actor=actor_of(rt, actor), at=at
        )
    rt.render.credit_allocation(report, rt.output_format(fmt, as_json))


@app.command("verify")
def verify(
    ctx: typer.Context, workspace: WorkspaceOpt = None, every: AllOpt = False, fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:  # fmt: skip
    """Check that every balance, overage and grant agrees with the ledger (exit 4 if not)."""
    rt: Runtime = ctx.obj
    with rt.services() as svc:
        report = svc.credits.verify(None if every else rt.workspace(workspace), every=every)
    rt.render.credit_verify(report, rt.output_format(fmt, as_json))
    rt.exit(4 if report.mismatches else 0)
