"""Operator catalogs: pull, push (validated, diffed, versioned, audited) and history (DESIGN 4c).

A catalog version is platform-wide, so pushing one needs a global admin; its audit row is written
under the workspace id `*` (every workspace). A database without the catalog tables (before
`atlas db upgrade`) reads as having no operator catalog: the built-in one alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Connection

from atlas_cli.db import entitlements as q
from atlas_cli.db.database import Database
from atlas_cli.domain import operator_catalog as oc
from atlas_cli.domain.catalog import CatalogError
from atlas_cli.errors import AtlasError, BadInput, NotConfigured
from atlas_cli.services import Clock

if TYPE_CHECKING:
    from atlas_cli.db.layout import Billing

PLATFORM = "*"  # the audit log's workspace id for a platform-wide change
PUSH_ACTION = "plans.push"


@dataclass(frozen=True)
class InForce:
    """The operator catalog in force, and its version (None: none was ever pushed)."""

    catalog: oc.OperatorCatalog
    version: int | None


@dataclass(frozen=True)
class PullResult:
    text: str
    version: int | None
    billing_model: str
    file: Path | None = None  # where it was written; None: for stdout


@dataclass(frozen=True)
class PushResult:
    billing_model: str
    changes: tuple[oc.Change, ...]
    previous: int | None
    version: int | None  # the version stored; None on a dry run or when nothing changed
    dry_run: bool
    actor: str | None = None
    audit_id: str | None = None


@dataclass(frozen=True)
class VersionInfo:
    version: int
    created_at: datetime
    actor: str
    note: str | None
    features: tuple[str, ...]
    in_force: bool


@dataclass(frozen=True)
class HistoryResult:
    billing_model: str
    versions: tuple[VersionInfo, ...]


def in_force(conn: Connection, billing: Billing, *, tables: bool | None = None) -> InForce:
    """The newest catalog version of the database's billing model (`tables`: whether the catalog
    tables exist, when the caller already knows)."""
    if not (q.has_tables(conn) if tables is None else tables):
        return InForce(oc.empty(billing.model), None)
    row = q.latest_version(conn, billing.model)
    if row is None:
        return InForce(oc.empty(billing.model), None)
    return InForce(oc.from_document(row["document"], billing.catalog), int(row["version"]))


def catalog_at(url: str, name: str, billing_model: str | None) -> oc.OperatorCatalog | None:
    """The operator catalog in force in the database at `url`; None when there is no database to
    ask (the plans are still worth showing without it)."""
    db = Database(url, name=name, billing_model=billing_model)
    try:
        with db.connect() as conn:
            return in_force(conn, db.billing(conn)).catalog
    except AtlasError:
        return None
    finally:
        db.dispose()


def read_catalog_file(path: Path, billing: Billing) -> oc.OperatorCatalog:
    """Raises: BadInput: an unreadable file, TOML that does not parse, a catalog that is not valid."""
    import tomllib

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path}: cannot read the catalog file ({exc.__class__.__name__}: {exc.args[-1]})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BadInput(f"{path}: not valid TOML: {exc}") from None
    try:
        return oc.parse(data, billing.catalog)
    except CatalogError as exc:
        raise BadInput(f"{path}: {exc}") from None


def check_counters(conn: Connection, catalog: oc.OperatorCatalog, source: str) -> None:
    """Every declarative counter names a table and columns of this database, and counts.

    Raises:
        BadInput: naming the feature whose counter cannot count here.
    """
    from sqlalchemy.exc import DBAPIError

    for key, feature in sorted(catalog.features.items()):
        if feature.counter is None:
            continue
        where = f"{source}: features.{key}.counter"
        problem = q.counter_problem(conn, feature.counter)
        if problem:
            raise BadInput(f"{where}: {problem}")
        try:
            with conn.begin_nested():
                q.count(conn, feature.counter, "")
        except DBAPIError as exc:
            reason = str(getattr(exc, "orig", exc)).splitlines()[0]
            raise BadInput(f"{where}: cannot count in this database ({reason})") from None


class CatalogService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def pull(self, file: Path | None = None) -> PullResult:
        """The catalog in force as TOML (built-in features commented, operator ones editable),
        written to `file` when one is given.

        Raises:
            BadInput: the file cannot be written.
        """
        with self._db.connect() as conn:
            billing = self._db.billing(conn)
            current = in_force(conn, billing)
        text = oc.to_toml(current.catalog, billing.catalog)
        if file is not None:
            try:
                file.write_text(text, encoding="utf-8")
            except OSError as exc:
                raise BadInput(f"{file}: cannot write the catalog ({exc.strerror})") from None
        return PullResult(text, current.version, billing.model, file)

    def push(self, path: Path, *, actor: str | None, dry_run: bool = False, note: str | None = None) -> PushResult:
        """Validate the file, compare it with the version in force, and store it as a new version
        (with its audit row, in one transaction). Identical to the version in force: nothing stored.
        A dry run needs no actor and stores nothing.

        Raises:
            BadInput: the file or its catalog is not valid (nothing stored).
            NotConfigured: the database lacks the catalog tables (run `atlas db upgrade`).
            PermissionDenied: the actor is missing, unknown, or not a global admin.
            Conflict: another push stored the same version number first.
        """
        from atlas_cli.services.admin import audit_row, find_actor, require_global_admin

        with self._db.begin() as conn:
            billing = self._db.billing(conn)
            catalog = read_catalog_file(path, billing)
            check_counters(conn, catalog, str(path))
            current = in_force(conn, billing)
            changes = oc.diff(current.catalog, catalog)
            if dry_run:
                return PushResult(billing.model, changes, current.version, None, True)
            if not q.has_tables(conn):
                raise NotConfigured("this database has no catalog tables yet: run `atlas db upgrade`; nothing stored")
            who = find_actor(conn, actor)
            require_global_admin(who, "plans push", billing.catalog.policy)
            if not changes:
                return PushResult(billing.model, changes, current.version, None, False, who.label)
            now = self._clock()
            version = q.next_version(conn)
            document = catalog.canonical()
            q.insert_version(
                conn,
                {
                    "version": version,
                    "model": billing.model,
                    "document": document,
                    "actor": who.label,
                    "created_at": now,
                    "note": note,
                },
            )
            before = {"version": current.version, "catalog": current.catalog.canonical()}
            audit = audit_row(PLATFORM, who.label, PUSH_ACTION, before, {"version": version, "catalog": document}, now)
            from atlas_cli.db import billing_queries as bq

            bq.insert_audit(conn, [audit])
            return PushResult(billing.model, changes, current.version, version, False, who.label, audit["id"])

    def history(self) -> HistoryResult:
        """Every stored version of the database's billing model, newest first."""
        with self._db.connect() as conn:
            billing = self._db.billing(conn)
            rows = q.versions(conn, billing.model) if q.has_tables(conn) else []
        return HistoryResult(billing.model, tuple(_version(row, i == 0) for i, row in enumerate(rows)))


def _version(row: Any, newest: bool) -> VersionInfo:
    features = tuple(sorted((row["document"] or {}).get("features", {})))
    return VersionInfo(int(row["version"]), row["created_at"], row["actor"], row["note"], features, newest)
