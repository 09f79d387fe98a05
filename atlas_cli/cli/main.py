"""The root `atlas` app: global options, and the command groups."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Annotated, Any

import typer
from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError  # Typer vendors Click
from typer.core import TyperGroup

from atlas_cli import __version__
from atlas_cli.cli import (
    audit,
    billing,
    completion,
    config,
    credits,
    db,
    demo,
    doctor,
    entitlements,
    events,  # noqa: F401
    plans,
    shell,
    trial,
    usage,
    workspace,
)
from atlas_cli.cli import context as context_cli
from atlas_cli.cli.options import FormatOpt, TzOpt, WorkspaceOpt
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
            if closed_pipe(exc):
                silence_stdout()
                raise typer.Exit(0) from None
            _debug_bug(ctx, exc)
            raise
        except (typer.Exit, typer.Abort, ClickException):
            raise
        except Exception as exc:
            _debug_bug(ctx, exc)
            raise


def _debug_bug(ctx: Any, exc: BaseException) -> None:
    """With --debug, a bug ends with its traceback on stderr, secrets hidden, and exit 1."""
    runtime = ctx.obj
    if isinstance(runtime, Runtime) and runtime.debug:
        from atlas_cli.cli import debug

        runtime.debug_line(debug.traceback_text(exc))
        typer.echo(f"Error: unexpected {type(exc).__name__} (a bug in atlas; the traceback is above)", err=True)
        raise typer.Exit(code=1) from None


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
app.add_typer(context_cli.app, name="context")
app.add_typer(shell.app, name="completion")
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
    context: Annotated[
        str | None,
        typer.Option(
            "--context",
            help="Use this context's settings (atlas context list) [env: ATLAS_CONTEXT].",
            show_default=False,
            autocompletion=completion.contexts,
        ),
    ] = None,
    workspace_key: WorkspaceOpt = None,
    fmt: FormatOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Shortcut for --format json.")] = False,
    no_color: Annotated[bool, typer.Option("--no-color", help="Plain output without colour [env: NO_COLOR].")] = False,
    tz: TzOpt = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", help="Data only: no progress, notes or hints on stderr (errors still).")
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Tracebacks and each SQL statement's time on stderr (secrets hidden).")
    ] = False,
    version: Annotated[
        bool, typer.Option("--version", "-V", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """Administer Atlas billing and usage metering from a terminal, cron or CI."""
    runtime = ctx.obj if isinstance(ctx.obj, Runtime) else Runtime()
    runtime.database_url = database_url or runtime.database_url
    runtime.context = context if context is not None else runtime.context
    runtime.workspace_key = workspace_key or runtime.workspace_key
    runtime.fmt = "json" if as_json else (fmt or runtime.fmt)
    runtime.no_color = no_color or runtime.no_color
    runtime.tz = tz or runtime.tz
    runtime.quiet = quiet or runtime.quiet
    runtime.debug = debug or runtime.debug
    if runtime.debug:
        runtime.start_debug()
        ctx.call_on_close(runtime.stop_debug)
    ctx.obj = runtime


def run() -> None:
    app(prog_name="atlas")
