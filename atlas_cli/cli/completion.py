"""Shell completion of values read from the database (workspace slugs).

Called by the shell on <TAB>: it imports lazily, never prints, and never fails (no database, no
table, no permission: nothing is offered).
"""

from __future__ import annotations

import typer


def workspaces(ctx: typer.Context, incomplete: str) -> list[str]:
    """The slugs (or ids, for a workspace without a slug) that start with what was typed."""
    try:
        from atlas_cli.config import embedded_database_url, load_settings
        from atlas_cli.db.database import Database
        from atlas_cli.services import Services, utc_now

        params = ctx.find_root().params
        url = params.get("database_url")
        if not url:
            settings = load_settings(params.get("context"))
            url = (
                settings.database_url.get_secret_value()
                if settings.database_url is not None
                else embedded_database_url(settings)
            )
        db = Database(url)
        try:
            keys = [w.slug or w.id for w in Services(db, utc_now).workspaces.list()]
        finally:
            db.dispose()
        return sorted(k for k in keys if k.startswith(incomplete))
    except Exception:  # completion must never break the shell
        return []


def contexts(ctx: typer.Context, incomplete: str) -> list[str]:
    """The names of the contexts that start with what was typed."""
    try:
        from atlas_cli.contexts import ContextFile

        return sorted(name for name in ContextFile().contexts() if name.startswith(incomplete))
    except Exception:  # completion must never break the shell
        return []
