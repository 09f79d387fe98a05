"""`atlas context`: named databases (and their default workspace, actor, billing model) to switch
between, as kubectl's and gh's contexts."""

from __future__ import annotations

from typing import Annotated

import typer

from atlas_cli.cli import completion
from atlas_cli.cli.choices import BillingModel
from atlas_cli.cli.options import FormatOpt, JsonOpt
from atlas_cli.cli.runtime import Runtime

app = typer.Typer(
    help="Named databases to switch between (stored 0600 in the user config directory).", no_args_is_help=True
)

NameArg = Annotated[str, typer.Argument(help="The context's name.", autocompletion=completion.contexts)]


@app.command("add")
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A name: letters, digits and . _ @ : + -")],
    database_url: Annotated[
        str, typer.Option("--database-url", help="The Atlas database URL (any form DATABASE_URL takes).")
    ],
    workspace: Annotated[
        str | None,
        typer.Option(
            "--workspace", "-w", help="Default workspace.", show_default=False, autocompletion=completion.workspaces
        ),
    ] = None,
    actor: Annotated[
        str | None, typer.Option("--as", help="Default actor (user id or email).", show_default=False)
    ] = None,
    billing_model: Annotated[
        BillingModel | None,
        typer.Option("--billing-model", help="Billing model override.", show_default=False, case_sensitive=False),
    ] = None,
    replace: Annotated[bool, typer.Option("--replace", help="Replace a context of that name.")] = False,
    use: Annotated[bool, typer.Option("--use", help="Make it the current context.")] = False,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a context: a database URL, and optionally a workspace, an actor and a billing model.

    Examples:
        atlas context add prod --database-url postgresql://atlas:...@db.internal/atlas --use
        atlas context add staging --database-url "$STAGING_DATABASE_URL" -w acme
    """
    rt: Runtime = ctx.obj
    from atlas_cli.services.contexts import ContextService

    with rt.errors():
        change = ContextService().add(
            name,
            database_url=database_url,
            workspace=workspace,
            actor=actor,
            billing_model=billing_model,
            replace=replace,
            use=use,
        )
    rt.render.context_change(change, rt.output_format(fmt, as_json))


@app.command("list")
def list_(ctx: typer.Context, fmt: FormatOpt = None, as_json: JsonOpt = False) -> None:
    """List the contexts; * marks the current one. Passwords show as ***."""
    rt: Runtime = ctx.obj
    from atlas_cli.services.contexts import ContextService

    with rt.errors():
        contexts = ContextService().list()
    rt.render.context_list(contexts, rt.output_format(fmt, as_json))


@app.command("use")
def use(ctx: typer.Context, name: NameArg, fmt: FormatOpt = None, as_json: JsonOpt = False) -> None:
    """Make a context the current one: later commands use its settings."""
    rt: Runtime = ctx.obj
    from atlas_cli.services.contexts import ContextService

    with rt.errors():
        change = ContextService().use(name)
    rt.render.context_change(change, rt.output_format(fmt, as_json))


@app.command("remove")
def remove(ctx: typer.Context, name: NameArg, fmt: FormatOpt = None, as_json: JsonOpt = False) -> None:
    """Remove a context (if it was the current one, none is current afterwards)."""
    rt: Runtime = ctx.obj
    from atlas_cli.services.contexts import ContextService

    with rt.errors():
        change = ContextService().remove(name)
    rt.render.context_change(change, rt.output_format(fmt, as_json))


@app.command("show")
def show(
    ctx: typer.Context,
    name: Annotated[
        str | None, typer.Argument(help="Default: the context that applies.", autocompletion=completion.contexts)
    ] = None,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show a context, by default the one that applies (--context, ATLAS_CONTEXT, else the current)."""
    rt: Runtime = ctx.obj
    from atlas_cli.services.contexts import ContextService

    with rt.errors():
        view = ContextService().show(name, rt.context)
    rt.render.context_show(view, rt.output_format(fmt, as_json))
