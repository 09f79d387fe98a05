"""The per-invocation Runtime: global options, settings, services, and error mapping."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer

from atlas_cli.errors import AtlasError, BadInput

if TYPE_CHECKING:
    from atlas_cli.config import Settings
    from atlas_cli.contexts import Applied
    from atlas_cli.render import Renderer
    from atlas_cli.services import Services

FORMATS = ("table", "json", "csv")


@dataclass
class Runtime:
    """Everything a command needs, built lazily so `--help` imports nothing heavy.

    Tests may pass their own (with a fixed `clock`) as `obj=` to the CliRunner.
    """

    database_url: str | None = None
    workspace_key: str | None = None
    fmt: str | None = None
    no_color: bool = False
    tz: str | None = None
    context: str | None = None
    quiet: bool = False
    debug: bool = False
    clock: Callable[[], datetime] | None = None
    sleep: Callable[[float], None] | None = None  # `usage watch` waits with it (tests drive the refreshes)
    terminal: bool | None = None  # whether stdout is a terminal; None: ask stdout
    _services: list[Services] = field(default_factory=list)
    _stop_tracing: Callable[[], None] | None = None
    _secrets: list[str] | None = None

    @cached_property
    def settings(self) -> Settings:
        from atlas_cli.config import ignored_in_dotenv, load_settings

        with self.errors():
            settings = load_settings(self.context)
        for name in ignored_in_dotenv():
            self.render.note(
                f"Ignored {name} from .env: a .env may not redirect the Stripe key; set it in the environment."
            )
        return settings

    @cached_property
    def render(self) -> Renderer:
        from atlas_cli.render import Renderer

        return Renderer(no_color=self.no_color, quiet=self.quiet)

    # --- --debug -------------------------------------------------------------------------------

    def start_debug(self) -> None:
        """Traces every SQL statement of this invocation on stderr (until `stop_debug`)."""
        from atlas_cli.db.tracing import trace_statements

        if self._stop_tracing is None:
            self._stop_tracing = trace_statements(self.debug_line)

    def stop_debug(self) -> None:
        if self._stop_tracing is not None:
            self._stop_tracing()
            self._stop_tracing = None

    def debug_line(self, message: str) -> None:
        """With --debug, `message` on stderr (each line prefixed `debug: `), secrets hidden."""
        if self.debug:
            from atlas_cli.cli import debug

            debug.write(message, self.secrets())

    def secrets(self) -> list[str]:
        """Every secret this invocation may know: the database URLs (flag, environment, `.env`,
        context) and the Stripe keys, with their passwords in every form."""
        if self._secrets is None:
            from atlas_cli.cli import debug

            values = [self.database_url, *debug.environment_secrets()]
            try:
                from dotenv import dotenv_values

                from atlas_cli.config import DOTENV
                from atlas_cli.contexts import applied

                if DOTENV.is_file():
                    found = dotenv_values(DOTENV)
                    values += [found.get(name) for name in debug.SECRET_VARIABLES]
                chosen = applied(self.context)
                values.append(chosen.values.get("database_url") if chosen is not None else None)
            except Exception:  # a broken .env or contexts file: its own error says so
                pass
            self._secrets = debug.secrets_of(values)
        return self._secrets

    def resolved_database_url(self) -> tuple[str, bool]:
        """The database URL and whether it is the embedded default."""
        if self.database_url:
            return self.database_url, False
        if self.settings.database_url is not None:
            return self.settings.database_url.get_secret_value(), False
        from atlas_cli.config import embedded_database_url

        return embedded_database_url(self.settings), True

    def applied_context(self) -> Applied | None:
        """The context that applies (--context, ATLAS_CONTEXT, else the current one), if any."""
        from atlas_cli.contexts import applied

        with self.errors():
            return applied(self.context)

    def database_url_source(self) -> str:
        """Where the database URL comes from, as a user would name it in a message."""
        import os

        if self.database_url:
            return "--database-url"
        if "DATABASE_URL" not in os.environ:
            context = self.applied_context()
            if context is not None and "database_url" in context.values:
                return f"the database_url of context {context.name}"
        return "DATABASE_URL"

    def workspace(self, local: str | None) -> str | None:
        """The workspace named on the command, else globally, else ATLAS_WORKSPACE."""
        return local or self.workspace_key or self.settings.atlas_workspace

    def output_format(self, local: str | None, as_json: bool = False) -> str:
        if as_json:
            return "json"
        chosen = local or self.fmt or self.settings.atlas_format or "table"
        if chosen not in FORMATS:
            self.fail(BadInput(f"--format: {chosen!r} is not one of {', '.join(FORMATS)}"))
        return chosen

    def is_terminal(self) -> bool:
        import sys

        return self.terminal if self.terminal is not None else sys.stdout.isatty()

    def zone(self, local: str | None = None) -> tzinfo:
        """The time zone of the command's --tz, else the global --tz, else ATLAS_TZ, else UTC; the
        renderer shows times in it. An unknown zone ends the command (exit 2)."""
        from atlas_cli.services.inputs import parse_zone

        name = local or self.tz or self.settings.atlas_tz
        with self.errors():
            zone = parse_zone(name, "--tz" if (local or self.tz) else "ATLAS_TZ")
        self.render.zone = zone
        return zone

    def billing_model(self) -> str:
        """The billing model for commands that may run without a database: ATLAS_BILLING_MODEL,
        else the one detected in the configured database when it exists and answers, else classic.

        Raises:
            BadInput: ATLAS_BILLING_MODEL names no billing model.
        """
        from atlas_cli.db.layout import CLASSIC, parse_model

        override = self.settings.atlas_billing_model
        if override is not None and override.strip():
            return parse_model(override)
        url, embedded = self.resolved_database_url()
        if embedded and not Path(url.removeprefix("sqlite:///")).is_file():
            return CLASSIC
        from atlas_cli.db.database import Database

        db = Database(url, name=self.database_url_source())
        try:
            with db.connect() as conn:
                return db.billing(conn).model
        except AtlasError:
            return CLASSIC  # no database to ask: the plans are still worth showing
        finally:
            db.dispose()

    @contextmanager
    def services(self, *, create: bool = False) -> Iterator[Services]:
        """Services over the configured database; an AtlasError inside ends the command."""
        from atlas_cli.db.database import Database
        from atlas_cli.services import Services, utc_now

        with self.errors():
            url, embedded = self.resolved_database_url()
            if self.debug:
                from atlas_cli.db import urls

                source = "the embedded default" if embedded else self.database_url_source()
                self.debug_line(f"database {urls.mask(url)} (from {source})")
            db = Database(
                url, create=create, name=self.database_url_source(), billing_model=self.settings.atlas_billing_model
            )
            services = Services(db, self.clock or utc_now, self.settings)
            try:
                yield services
            finally:
                services.db.dispose()

    @contextmanager
    def errors(self) -> Iterator[None]:
        try:
            yield
        except AtlasError as exc:
            self.fail(exc)

    def fail(self, exc: AtlasError) -> NoReturn:
        if self.debug:
            from atlas_cli.cli import debug

            self.debug_line(debug.traceback_text(exc))
        self.render.error(exc.message)
        raise typer.Exit(code=int(exc.exit_code))

    def exit(self, code: int) -> None:
        if code:
            raise typer.Exit(code=code)
