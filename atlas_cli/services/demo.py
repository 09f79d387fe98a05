"""`atlas demo`: deterministic demo workspaces that between them show every billing state."""

from __future__ import annotations

import itertools
import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from atlas_cli.db import migrate, schema
from atlas_cli.db.database import Database
from atlas_cli.domain.periods import calendar_month
from atlas_cli.errors import Conflict
from atlas_cli.services import Clock

DEMO_NAMESPACE = uuid.UUID("6f1d3c1e-6a55-4c41-9d43-2a4a3d7e0c11")
HISTORY_DAYS = 60
SHOWN_WORKSPACE = "globex"
DEMO_ADMIN = "admin@atlas.test"  # the demo's global admin (both models): the demo catalog's author

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class DemoWorkspace:
    slug: str
    name: str
    tier: str
    queries: int  # this month's queries
    tokens: int  # this month's tokens
    users: int
    age_days: int = 400
    byot: bool = False
    trial_days_left: int | None = None  # None: trial_ends_at stays null
    stripe: bool = False
    pending_invitations: int = 0
    connections: int = 2
    cost_cents: int = 0  # per-seat: this month's at-cost dollars of its token events, in cents
    spend_policy: str | None = None  # per-seat: a workspace row of ATLAS_SPEND_POLICY
    subscription: str | None = None  # a subscription row of this status without `stripe` (per-seat: trialing)
    state: str = ""  # per-seat: the status `billing check` answers for it
    capped: tuple[str, ...] = ()  # per-seat: the `billing check --resource` values at their cap

    @property
    def id(self) -> str:
        return f"ws_{self.slug.replace('-', '_')}"


DEMO_WORKSPACES = (
    DemoWorkspace("acme", "Acme Corp", "team", 4_200, 1_500_000, 6, stripe=True, pending_invitations=2),
    DemoWorkspace("globex", "Globex", "team", 8_400, 2_100_000, 8, stripe=True, connections=5),
    DemoWorkspace("initech", "Initech", "team", 10_350, 3_900_000, 5, stripe=True),
    DemoWorkspace("umbrella", "Umbrella", "team", 6_100, 5_750_000, 24, stripe=True, pending_invitations=1),
    DemoWorkspace("hooli", "Hooli", "trial", 1_900, 800_000, 4, age_days=5, trial_days_left=9, connections=1),
    DemoWorkspace("pied-piper", "Pied Piper", "trial", 700, 250_000, 3, age_days=20, connections=1),
    DemoWorkspace("stark", "Stark Industries", "team", 3_100, 12_000_000, 7, byot=True, stripe=True),
    DemoWorkspace("wayne", "Wayne Enterprises", "enterprise", 26_000, 40_000_000, 12, stripe=True, connections=9),
    DemoWorkspace("homelab", "Homelab", "free", 2_500, 900_000, 2, connections=3),
)

DEMO_IDS = frozenset(ws.id for ws in DEMO_WORKSPACES)


@dataclass(frozen=True)
class DemoSet:
    """One billing model's demo: its workspaces, the one shown, and how its rows are written."""

    model: str
    workspaces: tuple[DemoWorkspace, ...]
    shown: str
    users: Callable[[datetime], Iterator[dict[str, Any]]]
    rows: Callable[[datetime], Iterator[tuple[Any, list[dict[str, Any]]]]]  # (table, rows), parents first
    tables: Any  # the module whose `user` and `usage_events` tables the rows go into
    costs: bool = False  # token events carry their at-cost dollars (`gateway_cost_usd`)

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(ws.id for ws in self.workspaces)


def demo_set(model: str) -> DemoSet:
    """The demo of billing model `model` (classic or per-seat)."""
    from atlas_cli.db.layout import PER_SEAT

    if model == PER_SEAT:
        from atlas_cli.db import per_seat_server
        from atlas_cli.services import demo_per_seat as ps

        workspaces, shown = ps.PER_SEAT_WORKSPACES, ps.PER_SEAT_SHOWN
        return DemoSet(model, workspaces, shown, ps.users, ps.workspace_rows, per_seat_server, costs=True)
    return DemoSet(model, DEMO_WORKSPACES, SHOWN_WORKSPACE, DemoService._users, DemoService._workspace_rows, schema)


@dataclass(frozen=True)
class DemoResult:
    created: bool
    workspaces: int
    events: int
    shown: str


def _id(*parts: object) -> str:
    return str(uuid.uuid5(DEMO_NAMESPACE, ":".join(str(p) for p in parts)))


def _split(total: int, parts: int, rng: random.Random) -> list[int]:
    """`total` split into `parts` random amounts of at least 1 that add up exactly.

    Each part gets 1, and the rest is shared by rounding the running sum of random weights,
    so no single event soaks up the rounding.
    """
    if parts <= 0:
        return []
    weights = [rng.uniform(0.5, 1.5) for _ in range(parts)]
    spare, scale = total - parts, (total - parts) / sum(weights)
    amounts, running, given = [], 0.0, 0
    for weight in weights:
        running += weight * scale
        share = min(spare, round(running)) - given
        amounts.append(1 + share)
        given += share
    amounts[-1] += spare - given
    return amounts


class DemoService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def load(self, *, embedded: bool, progress: Progress | None = None, billing_model: str | None = None) -> DemoResult:
        """Lay out the billing model's tables if needed and load its demo data once.

        `billing_model` (else ATLAS_BILLING_MODEL, else classic) chooses the demo; an empty database
        is laid out for it, one already laid out must be of that model.

        Raises:
            BadInput: a billing model that is neither classic nor per-seat.
            Conflict: the database holds workspaces that are not the demo's, or is of the other model.
        """
        import sqlalchemy as sa

        from atlas_cli.db.layout import CLASSIC, billing_for, layout_for, parse_model

        chosen = billing_model or self._db.billing_model
        demo = demo_set(parse_model(chosen, "--billing-model") if chosen and chosen.strip() else CLASSIC)
        now = self._clock()
        total = sum(
            sum(_span_counts(ws, lower, upper, queries))
            for ws in demo.workspaces
            for lower, upper, queries, _tokens, _cost, _label in _spans(ws, now)
        )
        if progress:
            progress(0, total)  # the total is known before anything is generated
        with self._db.begin() as conn:
            fresh = not sa.inspect(conn).has_table("organization")
            found = billing_for(conn, self._db.billing_model).model
            if not fresh and found != demo.model:
                raise Conflict(
                    f"{self._db.masked_url} holds a {found} database: `atlas demo --billing-model {demo.model}` "
                    "does not mix billing models; give it an empty database (--database-url)"
                )
            (migrate.lay_out if fresh else migrate.upgrade)(conn, layout_for(demo.model))
            organization = sa.table("organization", sa.column("id"))
            existing = {row[0] for row in conn.execute(sa.select(organization.c.id))}
            foreign = existing - demo.ids
            if foreign or (existing and not embedded and existing != demo.ids):
                raise Conflict(
                    f"{self._db.masked_url} already holds {len(foreign)} workspace(s) of its own: "
                    "`atlas demo` only loads into the embedded database or an empty one"
                )
            if existing:
                return DemoResult(False, len(existing), 0, demo.shown)
            events = self._insert(conn, demo, now, progress, total)
        self._db.redetect()
        return DemoResult(True, len(demo.workspaces), events, demo.shown)

    def _insert(self, conn: Any, demo: DemoSet, now: datetime, progress: Progress | None, total: int) -> int:
        conn.execute(demo.tables.user.insert(), list(demo.users(now)))
        for table, rows in demo.rows(now):
            if rows:
                conn.execute(table.insert(), rows)
        _store_catalog(conn, demo.model, now)
        from atlas_cli.services import demo_credits

        done, events, written = 0, _events(demo, now), []
        while chunk := list(itertools.islice(events, 5_000)):  # generated as they are written
            conn.execute(demo.tables.usage_events.insert(), chunk)
            written += [(e["id"], e["workspace_id"], e["event_type"], e["quantity"], e["created_at"]) for e in chunk]
            done += len(chunk)
            if progress:
                progress(done, total)
        demo_credits.replay(conn, demo.model, written, now, DEMO_ADMIN)  # what the writers would have deducted
        return done

    @staticmethod
    def _users(now: datetime) -> Iterator[dict[str, Any]]:
        yield {
            "id": "usr_admin",
            "name": "Atlas Admin",
            "email": "admin@atlas.test",
            "role": "admin",
            "createdAt": now - timedelta(days=500),
        }
        for ws in DEMO_WORKSPACES:
            for n in range(ws.users):
                yield {
                    "id": f"usr_{ws.slug}_{n}",
                    "name": f"{ws.name} User {n}",
                    "email": f"user{n}@{ws.slug}.test",
                    "role": "user",
                    "createdAt": now - timedelta(days=ws.age_days),
                }

    @staticmethod
    def _workspace_rows(now: datetime) -> Iterator[tuple[Any, list[dict[str, Any]]]]:
        month = calendar_month(now)
        orgs, members, invites, conns, subs = [], [], [], [], []
        for ws in DEMO_WORKSPACES:
            created = now - timedelta(days=ws.age_days)
            orgs.append(
                {
                    "id": ws.id,
                    "name": ws.name,
                    "slug": ws.slug,
                    "createdAt": created,
                    "workspace_status": "active",
                    "plan_tier": ws.tier,
                    "byot": ws.byot,
                    "stripe_customer_id": f"cus_demo_{ws.slug}" if ws.stripe else None,
                    "trial_ends_at": now + timedelta(days=ws.trial_days_left) if ws.trial_days_left else None,
                    "suspended_at": None,
                    "deleted_at": None,
                }
            )
            for n in range(ws.users):
                role = "owner" if n == 0 else "admin" if n == 1 else "member"
                members.append(
                    {
                        "id": f"mem_{ws.slug}_{n}",
                        "organizationId": ws.id,
                        "userId": f"usr_{ws.slug}_{n}",
                        "role": role,
                        "createdAt": created,
                    }
                )
            invites += [
                {
                    "id": f"inv_{ws.slug}_{n}",
                    "org_id": ws.id,
                    "email": f"invitee{n}@{ws.slug}.test",
                    "status": "pending",
                }
                for n in range(ws.pending_invitations)
            ]
            invites.append(
                {"id": f"inv_{ws.slug}_old", "org_id": ws.id, "email": f"former@{ws.slug}.test", "status": "accepted"}
            )
            conns += [{"id": f"conn_{ws.slug}_{n}", "org_id": ws.id} for n in range(ws.connections)]
            if ws.stripe:
                subs.append(
                    {
                        "id": f"sub_row_{ws.slug}",
                        "plan": ws.tier,
                        "referenceId": ws.id,
                        "stripeCustomerId": f"cus_demo_{ws.slug}",
                        "stripeSubscriptionId": f"sub_demo_{ws.slug}",
                        "status": "active",
                        "periodStart": month.start,
                        "periodEnd": month.end,
                        "cancelAtPeriodEnd": False,
                        "billingInterval": "month",
                    }
                )
        yield from (
            (schema.organization, orgs),
            (schema.member, members),
            (schema.invitations, invites),
            (schema.connections, conns),
            (schema.subscription, subs),
        )


def _store_catalog(conn: Any, model: str, now: datetime) -> None:
    """Store the demo's operator catalog (`catalogs/demo-<model>.toml`) as version 1, audited as
    a push by the demo's global admin, in the demo's transaction."""
    import tomllib
    from importlib import resources

    from atlas_cli.catalogs import builtin
    from atlas_cli.db import billing_queries as bq
    from atlas_cli.db import entitlements as q
    from atlas_cli.domain import operator_catalog as oc
    from atlas_cli.services.admin import audit_row
    from atlas_cli.services.catalogs import PLATFORM, PUSH_ACTION

    text = resources.files("atlas_cli.catalogs").joinpath(f"demo-{model}.toml").read_text(encoding="utf-8")
    document = oc.parse(tomllib.loads(text), builtin(model)).canonical()
    version = q.next_version(conn)
    q.insert_version(
        conn,
        {"version": version, "model": model, "document": document, "actor": DEMO_ADMIN, "created_at": now,
         "note": "atlas demo"},
    )  # fmt: skip
    before = {"version": None, "catalog": oc.empty(model).canonical()}
    after = {"version": version, "catalog": document}
    bq.insert_audit(conn, [audit_row(PLATFORM, DEMO_ADMIN, PUSH_ACTION, before, after, now)])


def _events(demo: DemoSet, now: datetime) -> Iterator[dict[str, Any]]:
    for ws in demo.workspaces:
        rng = random.Random(ws.slug)
        for lower, upper, queries, tokens, cost, label in _spans(ws, now):
            yield from _span_events(ws, rng, lower, upper, queries, tokens, label, cost if demo.costs else None)


def _spans(ws: DemoWorkspace, now: datetime) -> list[tuple[datetime, datetime, int, int, int, str]]:
    """This month: exactly the planned totals (queries, tokens, cost in cents). Before it: about
    two thirds of that rate."""
    month = calendar_month(now)
    start = max(now - timedelta(days=HISTORY_DAYS), now - timedelta(days=ws.age_days))
    spans = [(max(month.start, start), now, ws.queries, ws.tokens, ws.cost_cents, "current")]
    if start < month.start:
        rate = 0.66 * (month.start - start) / timedelta(days=30)
        spans.append(
            (start, month.start, int(ws.queries * rate), int(ws.tokens * rate), int(ws.cost_cents * rate), "past")
        )
    return spans


def _span_counts(ws: DemoWorkspace, lower: datetime, upper: datetime, queries: int) -> tuple[int, int, int]:
    """How many query, token and login events a span gets."""
    query_events = max(1, queries // 2)
    token_events = max(1, query_events // 2)
    login_events = max(ws.users, int((upper - lower) / timedelta(days=1)) * ws.users // 2)
    return query_events, token_events, login_events


def _span_events(
    ws: DemoWorkspace,
    rng: random.Random,
    lower: datetime,
    upper: datetime,
    queries: int,
    tokens: int,
    label: str,
    cost_cents: int | None = None,
) -> Iterator[dict[str, Any]]:
    """The span's events; with `cost_cents`, every event has a `gateway_cost_usd` (the token
    events' add up to exactly that many cents, the others none)."""
    width = upper - lower
    query_events, token_events, login_events = _span_counts(ws, lower, upper, queries)
    plan = (
        ("query", _split(queries, query_events, rng)),
        ("token", _split(tokens, token_events, rng)),
        ("login", [1] * login_events),
    )
    costs: list[Decimal | None] = [None] * token_events
    if cost_cents is not None and cost_cents > 0:  # split in micro-dollars, the column's precision
        costs = [Decimal(m) / 1_000_000 for m in _split(cost_cents * 10_000, token_events, rng)]
    for event_type, amounts in plan:
        count = len(amounts)
        for n, amount in enumerate(amounts):
            user = n % ws.users if event_type == "login" else rng.randrange(ws.users)
            cost = {} if cost_cents is None else {"gateway_cost_usd": costs[n] if event_type == "token" else None}
            yield {
                "id": _id(ws.slug, label, event_type, n),
                "workspace_id": ws.id,
                "user_id": f"usr_{ws.slug}_{user}",
                "event_type": event_type,
                "quantity": amount,
                "metadata": {"source": "demo"},
                "created_at": lower + width * ((n + 0.5) / count),
                **cost,
            }
