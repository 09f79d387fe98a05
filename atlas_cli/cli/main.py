"""The root `atlas` app: global options, and the command groups."""

from __future__ import annotations

import copy
import importlib
import sys
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import contextmanager
from functools import partial
from typing import IO, Annotated, Any

import typer
from typer._click.core import Command
from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError  # Typer vendors Click
from typer.core import TyperGroup

from atlas_cli import __version__
from atlas_cli.cli import completion
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


# The root's commands, in the order Typer lists them (its commands, then its groups): the name, the
# modules that define it (a later one adds commands to the first one's group), and the function of
# a single command or None for a group's `app`. A command's modules are imported when it is used.
COMMANDS: tuple[tuple[str, tuple[str, ...], str | None], ...] = (
    ("demo", ("demo",), "demo"),
    ("doctor", ("doctor",), "doctor"),
    ("usage", ("usage", "events"), None),
    ("billing", ("billing",), None),
    ("trial", ("trial",), None),
    ("workspace", ("workspace",), None),
    ("plans", ("plans",), None),
    ("entitlements", ("entitlements",), None),
    ("credits", ("credits",), None),
    ("db", ("db",), None),
    ("audit", ("audit",), None),
    ("config", ("config",), None),
    ("context", ("context",), None),
    ("completion", ("shell",), None),
)


def _load(name: str, modules: tuple[str, ...], function: str | None) -> Command:
    """The Click command of one root command, built as Typer builds it for an eager `add_typer`."""
    loaded = [importlib.import_module(f"atlas_cli.cli.{module}") for module in modules]
    holder = typer.Typer(rich_markup_mode=app.rich_markup_mode)
    if function is not None:
        holder.command(name)(getattr(loaded[0], function))
        return typer.main.get_command_from_info(
            holder.registered_commands[0],
            pretty_exceptions_short=app.pretty_exceptions_short,
            rich_markup_mode=app.rich_markup_mode,
        )
    # The group is built without its commands; each is built when looked up (`usage show` builds
    # only `show`), and listing them all (help, completion) builds them all, in Typer's order.
    group_app = copy.copy(loaded[0].app)
    group_app.registered_commands = []
    holder.add_typer(group_app, name=name)
    group = typer.main.get_group_from_info(
        holder.registered_groups[0],
        pretty_exceptions_short=app.pretty_exceptions_short,
        suggest_commands=app.suggest_commands,
        rich_markup_mode=app.rich_markup_mode,
    )
    commands = LazyCommands(
        {
            info.name or typer.main.get_command_name(info.callback.__name__): partial(
                typer.main.get_command_from_info,
                info,
                pretty_exceptions_short=app.pretty_exceptions_short,
                rich_markup_mode=app.rich_markup_mode,
            )
            for info in loaded[0].app.registered_commands
            if info.callback is not None
        }
    )
    commands.update(group.commands)
    group.commands = commands
    return group


class LazyCommands(MutableMapping[str, Command]):
    """The root's commands by name: listing names imports nothing, looking one up imports only
    the modules of that command, so `atlas usage show` never imports (nor builds) the others."""

    def __init__(self, loaders: dict[str, Callable[[], Command]]) -> None:
        self._loaders = loaders
        self._loaded: dict[str, Command] = {}

    def __getitem__(self, name: str) -> Command:
        if name not in self._loaded:
            if name not in self._loaders:
                raise KeyError(name)
            self._loaded[name] = self._loaders[name]()
        return self._loaded[name]

    def __setitem__(self, name: str, command: Command) -> None:
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        if name not in self:
            raise KeyError(name)
        self._loaded.pop(name, None)
        self._loaders = {key: value for key, value in self._loaders.items() if key != name}

    def __contains__(self, name: object) -> bool:
        return name in self._loaded or name in self._loaders

    def __iter__(self) -> Iterator[str]:
        yield from self._loaders
        yield from (name for name in self._loaded if name not in self._loaders)

    def __len__(self) -> int:
        return sum(1 for _ in self)


class AtlasGroup(TyperGroup):
    """The root group: every usage error below it is reported on one line, and a closed pipe on
    stdout ends any command quietly with exit 0. Its commands are imported when used."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        eager = self.commands
        self.commands = LazyCommands({spec[0]: partial(_load, *spec) for spec in COMMANDS})
        self.commands.update(eager)

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self.commands)

    def get_params(self, ctx: Any) -> list[Any]:
        """Typer's own --install-completion and --show-completion still work but are not listed:
        `atlas completion install` is the documented way (it also completes workspace slugs)."""
        params: list[Any] = super().get_params(ctx)
        for param in params:
            if param.name in ("install_completion", "show_completion"):
                param.hidden = True
        return params

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
