"""`atlas plans`: the plan table."""

from __future__ import annotations

from typing import Annotated

import typer

from atlas_cli.cli.options import FormatOpt, JsonOpt
from atlas_cli.cli.runtime import Runtime

app = typer.Typer(help="Plans and their limits.", no_args_is_help=True)


@app.command("list")
def list_(ctx: typer.Context, fmt: FormatOpt = None, as_json: JsonOpt = False) -> None:
    """List the plans and their limits."""
    rt: Runtime = ctx.obj
    from atlas_cli.services.plans import PlanService

    with rt.errors():
        table = PlanService(rt.billing_model).list()
    rt.render.plan_list(table, rt.output_format(fmt, as_json))


@app.command("show")
def show(
    ctx: typer.Context,
    tier: Annotated[str, typer.Argument(help="A tier of the billing model: `atlas plans list` names them.")],
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show one plan's limits."""
    rt: Runtime = ctx.obj
    from atlas_cli.services.plans import PlanService

    with rt.errors():
        table = PlanService(rt.billing_model).show(tier)
    rt.render.plan_detail(table, rt.output_format(fmt, as_json))
