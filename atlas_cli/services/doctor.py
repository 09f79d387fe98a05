"""`atlas doctor` and `atlas config show`: is everything atlas needs in place, and where does each
setting come from (DESIGN section 2). Secrets never leave this module unmasked."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from atlas_cli.config import NOT_FROM_DOTENV, Settings, embedded_database_url, named_value
from atlas_cli.db import migrate, urls
from atlas_cli.db.database import Database
from atlas_cli.db.migrate import SchemaState
from atlas_cli.errors import AtlasError, BadInput, ExitCode
from atlas_cli.services import Clock, utc_now
from atlas_cli.stripe_gateway import StripeGateway

if TYPE_CHECKING:
    from atlas_cli.contexts import Applied

SECRET_FIELDS = frozenset({"stripe_secret_key", "stripe_webhook_secret"})


@dataclass(frozen=True)
class SettingSource:
    name: str
    value: str | None
    source: str  # flag | env | context NAME | .env | ignored (.env) | default


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool | None  # None: skipped
    detail: str
    fix: str | None = None
    exit_code: int = 0


@dataclass(frozen=True)
class DoctorReport:
    checks: tuple[Check, ...]
    billing_model: str | None = None  # None: the database could not be read
    billing_reason: str | None = None

    @property
    def ok(self) -> bool:
        return all(c.ok is not False for c in self.checks)

    @property
    def exit_code(self) -> int:
        return next((c.exit_code for c in self.checks if c.ok is False), 0)


def mask_secret(value: str) -> str:
    """Only the kind of key shows: `sk_test_****`, `whsec_****`."""
    head, sep, _rest = value.rpartition("_")
    return f"{head}{sep}****" if sep else "****"


def _shown(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if hasattr(value, "get_secret_value"):
        value = value.get_secret_value()
    if name == "database_url":
        try:
            return urls.mask(str(value))
        except BadInput as exc:
            return f"(unusable: {exc.message})"
    return mask_secret(str(value)) if name in SECRET_FIELDS else str(value)


def settings_report(
    settings: Settings,
    flags: Mapping[str, str | None],
    *,
    context: Applied | None = None,
    environ: Mapping[str, str] | None = None,
    dotenv: Path = Path(".env"),
) -> list[SettingSource]:
    """Every setting's effective value (masked) and where it came from: flag > env > context >
    .env > default."""
    from dotenv import dotenv_values

    env_names = {k.upper() for k in (os.environ if environ is None else environ)}
    file_names = {k.upper() for k in dotenv_values(dotenv)} if dotenv.is_file() else set()
    rows = []
    for name in Settings.model_fields:
        value: Any = getattr(settings, name)
        if flags.get(name):
            value, source = flags[name], "flag"
        elif name.upper() in env_names:
            source = "env"
        elif context is not None and name in context.values:
            source = context.source
        elif name.upper() in file_names:
            source = "ignored (.env)" if name in NOT_FROM_DOTENV else ".env"
        else:
            source = "default"
        shown = _shown(name, value)
        if name == "database_url" and source == "default":
            shown = f"{embedded_database_url(settings)} (embedded)"
        rows.append(SettingSource(name.upper(), shown, source))
    return rows


CHOSEN_BY = {"flag": "flag", "env": "env (ATLAS_CONTEXT)", "current": "current (atlas context use)"}


def config_report(
    settings: Settings,
    flags: Mapping[str, str | None],
    database_url: str,
    url_name: str = "DATABASE_URL",
    context: Applied | None = None,
) -> list[SettingSource]:
    """A first row `context` (the context that applies and what chose it), `settings_report`, then
    the billing model that applies to the database (a row named `billingModel`, its source the
    reason), when the database can be read."""
    applied = (
        SettingSource("context", context.name, CHOSEN_BY[context.chosen_by])
        if context is not None
        else SettingSource("context", None, "none")
    )
    rows = settings_report(settings, flags, context=context)
    return [applied, *rows, applied_billing_model(database_url, url_name, settings)]


def applied_billing_model(database_url: str, url_name: str, settings: Settings) -> SettingSource:
    """The billing model of the database at `database_url` and why; never fails: an unreadable
    database (or an embedded one not created yet) shows as no value and what stopped it."""
    try:
        db = Database(database_url, name=url_name, billing_model=settings.atlas_billing_model)
        try:
            with db.connect() as conn:
                detection = db.billing(conn).detection
        finally:
            db.dispose()
    except AtlasError as exc:
        return SettingSource("billingModel", None, f"not known: {exc.message}")
    return SettingSource("billingModel", detection.model, detection.reason)


class DoctorService:
    def __init__(
        self, db: Database, settings: Settings, gateway: StripeGateway | None = None, *, clock: Clock = utc_now
    ) -> None:
        self._db = db
        self._settings = settings
        self._stripe = gateway or StripeGateway(settings)
        self._clock = clock

    def run(self) -> DoctorReport:
        checks = [self._database()]
        state: SchemaState | None = None
        if checks[0].ok:
            state, schema = self._schema()
            checks.append(schema)
        else:
            checks.append(Check("schema", None, "database not reachable"))
        ready = state is not None and state.schema_ready
        checks.append(self._trials() if ready else Check("trials", None, "schema not ready"))
        checks.extend(self._stripe_checks())
        if state is None:
            return DoctorReport(tuple(checks))
        return DoctorReport(tuple(checks), state.billing_model, state.billing_reason)

    def _trials(self) -> Check:
        """Expired trials, and the unexpected kind: a trial workspace with an active subscription."""
        from atlas_cli.db.billing_queries import trial_workspaces
        from atlas_cli.domain.trial import trial_state

        now = self._clock()
        with self._db.connect() as conn:
            rows = trial_workspaces(conn)
        expired = [r for r in rows if trial_state(now, r["trial_ends_at"], r["createdAt"]).expired]
        paid = [r["id"] for r in expired if r["paying"]]
        if paid:
            return Check(
                "trials",
                False,
                f"expired trial but an active subscription: {', '.join(paid)}",
                "the plan did not sync from Stripe: check the webhook secret and price ids, then run "
                "`atlas billing sync -w WORKSPACE --as ADMIN`",
                ExitCode.CONFLICT,
            )
        by_default = sum(1 for r in expired if r["trial_ends_at"] is None)
        detail = f"{len(rows)} on trial, {len(expired)} expired"
        if by_default:
            detail += (
                f" ({by_default} by the 14-day default: no trial_ends_at was set; "
                "`atlas trial extend --days N` gives more time)"
            )
        return Check("trials", True, detail)

    def _database(self) -> Check:
        import sqlalchemy as sa

        try:
            with self._db.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except AtlasError as exc:
            return Check(
                "database",
                False,
                exc.message,
                "set DATABASE_URL (or --database-url) to the Atlas database, or run `atlas db init` for a new one",
                int(exc.exit_code),
            )
        return Check("database", True, f"reachable at {self._db.masked_url}")

    def _schema(self) -> tuple[SchemaState | None, Check]:
        try:
            with self._db.connect() as conn:
                state = migrate.inspect_schema(conn, self._db.billing(conn))
        except AtlasError as exc:
            return None, Check("schema", False, exc.message, "run `atlas db status`", int(exc.exit_code))
        return state, self._schema_check(state)

    @staticmethod
    def _schema_check(state: SchemaState) -> Check:
        """The billing model and why; its tables; every workspace on a tier that model knows."""
        from atlas_cli.catalogs import builtin

        locked = "accepts" if state.tiers and "locked" in state.tiers else "has no"
        model = f"{state.billing_model} billing model ({state.billing_reason})"
        if not state.schema_ready:
            bad = [f"{t.name} {t.state}" for t in state.tables if t.state != "present"]
            detail = ", ".join(bad) or f"migrations at {state.revision or 'none'}, head {state.head}"
            return Check(
                "schema",
                False,
                f"{model}: {detail}",
                "run `atlas db upgrade` (or `atlas db init` on an empty database)",
                ExitCode.NOT_CONFIGURED,
            )
        if state.unknown_tiers:
            named = ", ".join(f"{ws} ({tier})" for ws, tier in state.unknown_tiers)
            known = ", ".join(builtin(state.billing_model).plans)
            return Check(
                "schema",
                False,
                f"{model}: workspaces on a tier the {state.billing_model} model does not know: {named}",
                f"billing check blocks them (billing_check_failed): give each a {state.billing_model} tier "
                f"({known}) with `atlas workspace set-plan`, or set ATLAS_BILLING_MODEL if the database was "
                "detected as the wrong model",
                ExitCode.NOT_CONFIGURED,
            )
        return Check("schema", True, f"{model}; migrations at {state.head}; plan_tier {locked} 'locked'")

    def _stripe_checks(self) -> list[Check]:
        if not self._stripe.configured:
            skipped = "STRIPE_SECRET_KEY not set: self-hosted mode"
            return [Check(name, None, skipped) for name in ("stripe key", "webhook secret", "price ids")]
        key = self._guard(
            "stripe key",
            "Stripe accepted the key",
            self._stripe.check_key,
            "set STRIPE_SECRET_KEY to the Atlas server's secret key (Stripe dashboard > Developers > "
            "API keys; test and live keys differ)",
        )
        return [key, self._webhook_secret(), self._prices() if key.ok else Check("price ids", None, "key rejected")]

    def _price_settings(self) -> dict[str, str | None]:
        """Each price setting of the database's billing model, valued as `billing sync` values it:
        the environment (or `.env`), else the platform row of a per-seat `settings` table. Without
        a readable database, the model ATLAS_BILLING_MODEL names (else classic), environment only."""
        from atlas_cli.catalogs import builtin
        from atlas_cli.domain.stripe_mapping import price_setting_names

        rows: Mapping[str, str | None] = {}
        try:
            with self._db.connect() as conn:
                billing = self._db.billing(conn)
                names = price_setting_names(billing.catalog)
                rows = billing.layout.platform_settings(conn, names)
        except AtlasError:
            names = price_setting_names(builtin(self._db.billing_model or "classic"))
        return {name: named_value(self._settings, name) or rows.get(name) for name in names}

    @staticmethod
    def _guard(name: str, ok: str, probe: Callable[[], object], fix: str) -> Check:
        try:
            probe()
        except AtlasError as exc:
            return Check(name, False, exc.message, fix, int(exc.exit_code))
        return Check(name, True, ok)

    def _webhook_secret(self) -> Check:
        if self._settings.stripe_webhook_secret is not None:
            return Check("webhook secret", True, "STRIPE_WEBHOOK_SECRET is set")
        return Check(
            "webhook secret",
            False,
            "STRIPE_WEBHOOK_SECRET is not set",
            "set it to the signing secret of the Atlas webhook endpoint (Stripe dashboard > Webhooks); "
            "a mismatched secret makes every event fail verification, and plans stop syncing",
            ExitCode.NOT_CONFIGURED,
        )

    def _prices(self) -> Check:
        configured = self._price_settings()
        unset = [name for name, value in configured.items() if not value]
        try:
            missing = self._stripe.missing_prices([v for v in configured.values() if v])
        except AtlasError as exc:
            return Check("price ids", False, exc.message, "retry later", int(exc.exit_code))
        problems = [f"{n} not set" for n in unset] + [f"{p} not found in Stripe" for p in missing]
        if not problems:
            return Check("price ids", True, "every price id exists in Stripe")
        return Check(
            "price ids",
            False,
            "; ".join(problems),
            "set the STRIPE_*_PRICE_ID variables (per-seat servers: or their platform rows in the settings "
            "table) to the Atlas server's prices in this Stripe account (test and live mode have different "
            "prices); an unknown price is why a plan is not syncing",
            ExitCode.NOT_CONFIGURED,
        )
