"""The root `atlas` app: global options, and the command groups."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Annotated, Any

import typer
from typer._click.exceptions import NoArgsIsHelpError, UsageError  # Typer vendors Click
from typer.core import TyperGroup

from atlas_cli import __version__
from atlas_cli.cli import (
    audit,
    billing,
    config,
    credits,
    db,
    demo,
    doctor,
    entitlements,
    events,  # noqa: F401
    plans,
    trial,
    usage,
    workspace,
)
from atlas_cli.cli.options import FormatOpt, WorkspaceOpt
from atlas_cli.cli.runtime import Runtime
from atlas_cli.entry import closed_pipe, silence_stdout


class OneLineUsageError(UsageError):
    """A usage error (unknown option, bad or missing value) as atlas reports bad input: one line
    `Error: ...` on stderr, exit 2."""

    def __init__(self, error: UsageError) -> None:
        super().__init__(_usage_message(error), error.ctx)

    def show(self, file: IO[Any] | None = None) -> None:
        typer.echo(f"Error: {self.message}", err=True)


def _usage_message(error: UsageError) -> str:
    param = getattr(error, "param", None)
    choices = getattr(getattr(param, "type", None), "choices", None)
    if param is not None and choices and " is not one of " in error.message:
        # `--period: 'weekly' is not one of daily, monthly`, as the services word it
        value = error.message.split(" is not one of ")[0]
        message = f"{max(param.opts, key=len)}: {value} is not one of {', '.join(map(str, choices))}"
    else:
        message = error.format_message()
    hint = f" (see '{error.ctx.command_path} -h')" if error.ctx is not None else ""
    return " ".join(message.split()) + hint


@contextmanager
def _one_line_usage_errors() -> Iterator[None]:
    try:
        yield
    except (NoArgsIsHelpError, OneLineUsageError):
        raise
    except UsageError as exc:
        raise OneLineUsageError(exc) from None


class AtlasGroup(TyperGroup):
    """The root group: every usage error below it is reported on one line, and a closed pipe on
    stdout ends any command quietly with exit 0."""

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any) -> Any:
        with _one_line_usage_errors():
            return super().make_context(info_name, args, parent=parent, **extra)

    def invoke(self, ctx: Any) -> Any:
        try:
            try:
                with _one_line_usage_errors():
                    return super().invoke(ctx)
            finally:
                sys.stdout.flush()  # meet a closed pipe here, not in the interpreter's last flush
        except OSError as exc:
            if not closed_pipe(exc):
                raise
            silence_stdout()
            raise typer.Exit(0) from None


app = typer.Typer(
    cls=AtlasGroup,
    name="atlas",
    help="Administer Atlas billing and usage metering: usage against limits, plans, trials, Stripe.",
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(usage.app, name="usage")
app.add_typer(billing.app, name="billing")
app.add_typer(trial.app, name="trial")
app.add_typer(workspace.app, name="workspace")
app.add_typer(plans.app, name="plans")
app.add_typer(entitlements.app, name="entitlements")
app.add_typer(credits.app, name="credits")
app.add_typer(db.app, name="db")
app.command("demo")(demo.demo)
app.add_typer(audit.app, name="audit")
app.add_typer(config.app, name="config")
app.command("doctor")(doctor.doctor)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"atlas {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help="Atlas database URL [env: DATABASE_URL]; default: embedded SQLite.",
            show_default=False,
        ),
    ] = None,
    workspace_key: WorkspaceOpt = None,
    fmt: FormatOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Shortcut for --format json.")] = False,
    no_color: Annotated[bool, typer.Option("--no-color", help="Plain output without colour [env: NO_COLOR].")] = False,
    version: Annotated[
        bool, typer.Option("--version", "-V", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """Administer Atlas billing and usage metering from a terminal, cron or CI."""
    runtime = ctx.obj if isinstance(ctx.obj, Runtime) else Runtime()
    runtime.database_url = database_url or runtime.database_url
    runtime.workspace_key = workspace_key or runtime.workspace_key
    runtime.fmt = "json" if as_json else (fmt or runtime.fmt)
    runtime.no_color = no_color or runtime.no_color
    ctx.obj = runtime


def run() -> None:
    app(prog_name="atlas")
