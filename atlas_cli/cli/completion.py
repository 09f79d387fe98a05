"""Shell completion of values read from the database or the config (workspace slugs, tiers,
context names).

Called by the shell on <TAB>: it imports lazily, never prints, and never fails (no database, no
table, no permission, a bad config: nothing is offered, or for tiers every tier atlas knows).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from atlas_cli.db.database import Database
    from atlas_cli.domain.catalog import Catalog


def _database(ctx: typer.Context) -> tuple[Database, str | None]:
    """The configured database (the root --database-url, else the settings with the root
    --context), and the ATLAS_BILLING_MODEL override."""
    from atlas_cli.config import embedded_database_url, load_settings
    from atlas_cli.db.database import Database

    params = ctx.find_root().params
    settings = load_settings(params.get("context"))
    url = params.get("database_url")
    if not url:
        url = (
            settings.database_url.get_secret_value()
            if settings.database_url is not None
            else embedded_database_url(settings)
        )
    return Database(url), settings.atlas_billing_model


def workspaces(ctx: typer.Context, incomplete: str) -> list[str]:
    """The slugs (or ids, for a workspace without a slug) that start with what was typed."""
    try:
        from atlas_cli.services import Services, utc_now

        db, _model = _database(ctx)
        try:
            keys = [w.slug or w.id for w in Services(db, utc_now).workspaces.list()]
        finally:
            db.dispose()
        return sorted(k for k in keys if k.startswith(incomplete))
    except Exception:  # completion must never break the shell
        return []


def tiers(ctx: typer.Context, incomplete: str) -> list[str]:
    """The tiers of the database's billing model (ATLAS_BILLING_MODEL, else detected); when the
    database cannot be read, the tiers of both models."""
    from atlas_cli.catalogs import MODELS, builtin

    try:
        names = set(_model_catalog(ctx).plans)
    except Exception:  # completion must never break the shell
        names = {tier for model in MODELS for tier in builtin(model).plans}
    return sorted(n for n in names if n.startswith(incomplete))


def _model_catalog(ctx: typer.Context) -> Catalog:
    from atlas_cli.catalogs import builtin
    from atlas_cli.db.layout import parse_model

    db, override = _database(ctx)
    if override:
        return builtin(parse_model(override))
    try:
        with db.connect() as conn:
            return db.billing(conn).catalog
    finally:
        db.dispose()


def contexts(ctx: typer.Context, incomplete: str) -> list[str]:
    """The names of the contexts that start with what was typed."""
    try:
        from atlas_cli.contexts import ContextFile

        return sorted(name for name in ContextFile().contexts() if name.startswith(incomplete))
    except Exception:  # completion must never break the shell
        return []
