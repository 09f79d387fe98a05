"""The per-seat demo workspaces (`atlas demo --billing-model per-seat`): between them every state a
per-seat Atlas server decides (DESIGN section 4b), and the rows as that server writes them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from atlas_cli.domain.periods import calendar_month
from atlas_cli.services.demo import DemoWorkspace

# The credit is $20 x seats; `state` is what `billing check` answers for the workspace, `capped`
# the resources (`billing check --resource`) that are at their cap.
PER_SEAT_WORKSPACES = (
    DemoWorkspace("acme", "Acme Corp", "pro", 3_000, 900_000, 3, stripe=True, cost_cents=2_000, state="ok"),
    DemoWorkspace("globex", "Globex", "pro", 4_200, 1_400_000, 2, stripe=True, cost_cents=3_400, state="warning"),
    DemoWorkspace(
        "initech",
        "Initech",
        "starter",
        2_600,
        1_100_000,
        1,
        stripe=True,
        connections=0,
        cost_cents=3_150,
        state="metered",
    ),
    DemoWorkspace(  # past the default abuse ceiling (500 %) under the default policy, continue
        "umbrella", "Umbrella", "pro", 6_100, 4_000_000, 1, stripe=True, cost_cents=12_000, state="hard_limit"
    ),
    DemoWorkspace(  # just past the credit, with the spend policy cutoff (a settings row)
        "cyberdyne",
        "Cyberdyne",
        "starter",
        3_300,
        1_500_000,
        2,
        stripe=True,
        connections=0,
        cost_cents=4_100,
        spend_policy="cutoff",
        state="hard_limit",
    ),
    DemoWorkspace(
        "stark",
        "Stark Industries",
        "business",
        3_100,
        12_000_000,
        3,
        byot=True,
        stripe=True,
        cost_cents=50_000,
        state="ok",
    ),
    DemoWorkspace(
        "hooli",
        "Hooli",
        "trial",
        1_900,
        800_000,
        2,
        age_days=5,
        trial_days_left=9,
        cost_cents=500,
        connections=0,
        state="ok",
    ),
    DemoWorkspace(
        "pied-piper",
        "Pied Piper",
        "trial",
        700,
        250_000,
        2,
        age_days=20,
        connections=0,
        cost_cents=800,
        state="trial_expired",
    ),
    DemoWorkspace(
        "wayne",
        "Wayne Enterprises",
        "locked",
        400,
        100_000,
        2,
        connections=0,
        cost_cents=100,
        state="subscription_required",
    ),
    DemoWorkspace(  # a trialing subscription does not anchor the period: the UTC month does
        "soylent", "Soylent", "pro", 1_800, 600_000, 2, subscription="trialing", cost_cents=1_000, state="ok"
    ),
    DemoWorkspace(  # 8 members + 2 pending invitations = 10 seats of 10; 1 connection of 1
        "vandelay",
        "Vandelay Industries",
        "starter",
        900,
        300_000,
        8,
        stripe=True,
        pending_invitations=2,
        connections=1,
        cost_cents=300,
        state="ok",
        capped=("members", "connections"),
    ),
    DemoWorkspace("homelab", "Homelab", "free", 2_500, 900_000, 2, cost_cents=1_500, connections=3, state="ok"),
)

PER_SEAT_SHOWN = "globex"


def users(now: datetime) -> Iterator[dict[str, Any]]:
    def user(user_id: str, name: str, email: str, role: str, created: datetime) -> dict[str, Any]:
        return {
            "id": user_id,
            "name": name,
            "email": email,
            "emailVerified": True,
            "createdAt": created,
            "updatedAt": created,
            "role": role,
        }

    yield user("usr_admin", "Atlas Admin", "admin@atlas.test", "platform_admin", now - timedelta(days=500))
    for ws in PER_SEAT_WORKSPACES:
        for n in range(ws.users):
            created = now - timedelta(days=ws.age_days)
            yield user(f"usr_{ws.slug}_{n}", f"{ws.name} User {n}", f"user{n}@{ws.slug}.test", "member", created)


def workspace_rows(now: datetime) -> Iterator[tuple[Any, list[dict[str, Any]]]]:
    """(table, rows) in the order the foreign keys need."""
    from atlas_cli.db import per_seat_server

    month = calendar_month(now)
    tables: dict[str, list[dict[str, Any]]] = {
        name: []
        for name in ("organization", "member", "invitation", "workspace_plugins", "subscription", "settings",
                     "user_trial_grants")
    }  # fmt: skip
    for ws in PER_SEAT_WORKSPACES:
        created = now - timedelta(days=ws.age_days)
        owner = f"usr_{ws.slug}_0"
        customer = f"cus_demo_{ws.slug}" if ws.stripe or ws.subscription else None
        tables["organization"].append(
            {
                "id": ws.id,
                "name": ws.name,
                "slug": ws.slug,
                "createdAt": created,
                "workspace_status": "active",
                "plan_tier": ws.tier,
                "byot": ws.byot,
                "stripeCustomerId": customer,
                "trial_ends_at": now + timedelta(days=ws.trial_days_left) if ws.trial_days_left else None,
            }
        )
        tables["member"] += [
            {
                "id": f"mem_{ws.slug}_{n}",
                "organizationId": ws.id,
                "userId": f"usr_{ws.slug}_{n}",
                "role": "owner" if n == 0 else "admin" if n == 1 else "member",
                "createdAt": created,
            }
            for n in range(ws.users)
        ]
        pending = [("pending", now + timedelta(hours=48))] * ws.pending_invitations
        for n, (status, expires) in enumerate([*pending, ("pending", now - timedelta(hours=1)), ("accepted", now)]):
            tables["invitation"].append(
                {
                    "id": f"inv_{ws.slug}_{n}",
                    "organizationId": ws.id,
                    "email": f"invitee{n}@{ws.slug}.test",
                    "role": "member",
                    "status": status,  # one expired pending and one accepted: neither takes a seat
                    "expiresAt": expires,
                    "createdAt": min(created, expires - timedelta(hours=48)),
                    "inviterId": owner,
                }
            )
        plugins = [("datasource", "published")] * ws.connections + [("datasource", "archived"), ("action", "published")]
        tables["workspace_plugins"] += [
            {
                "id": f"wp_{ws.slug}_{n}",
                "workspace_id": ws.id,
                "catalog_id": f"catalog:{pillar}-{n}",
                "install_id": f"install_{ws.slug}_{n}",
                "pillar": pillar,
                "status": status,
                "config": {},
            }
            for n, (pillar, status) in enumerate(plugins)
        ]
        if ws.stripe or ws.subscription:
            status = ws.subscription or "active"
            start, end = (
                (month.start, month.end) if status == "active" else (now - timedelta(days=2), now + timedelta(days=12))
            )
            tables["subscription"].append(
                {
                    "id": f"sub_row_{ws.slug}",
                    "plan": ws.tier,
                    "referenceId": ws.id,
                    "stripeCustomerId": customer,
                    "stripeSubscriptionId": f"sub_demo_{ws.slug}",
                    "status": status,
                    "periodStart": start,
                    "periodEnd": end,
                    "trialStart": start if status == "trialing" else None,
                    "trialEnd": end if status == "trialing" else None,
                    "cancelAtPeriodEnd": False,
                    "seats": ws.users,
                    "billingInterval": "month",
                }
            )
        if ws.spend_policy:
            tables["settings"].append(
                {"key": "ATLAS_SPEND_POLICY", "value": ws.spend_policy, "org_id": ws.id, "updated_at": now}
            )
        if ws.tier == "trial":
            tables["user_trial_grants"].append({"user_id": owner, "org_id": ws.id, "granted_at": created})
    for name, rows in tables.items():
        yield per_seat_server.metadata.tables[name], rows
