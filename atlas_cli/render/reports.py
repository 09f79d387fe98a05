"""The reports of usage, billing status and checks, workspaces, trials, plans and the schema, and
the `Renderer` that gathers every area's views.

Data goes to stdout; progress, notes and errors go to stderr. The JSON shapes of `usage show`,
`usage history`, `usage breakdown` and `billing status` are the Atlas admin API's own. The
plumbing is in `base`; the billing operations' and the usage events' output in `billing` and
`events`.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from atlas_cli.catalogs import builtin
from atlas_cli.render.base import NOT_ENFORCED, STATUS_STYLE, chart_bar, days, iso, number, zone_name
from atlas_cli.render.billing import BillingOpsViews
from atlas_cli.render.contexts import ContextViews
from atlas_cli.render.credits import CreditViews
from atlas_cli.render.entitlements import EntitlementViews
from atlas_cli.render.events import EventViews
from atlas_cli.render.meter_reports import UsageSentViews
from atlas_cli.render.standing import counts_json, forecast_json, plan_limits
from atlas_cli.render.watch import WatchViews

if TYPE_CHECKING:
    from atlas_cli.db.migrate import SchemaState
    from atlas_cli.db.tuning import CoveringIndex
    from atlas_cli.domain.catalog import Catalog
    from atlas_cli.domain.catalog import Plan as CatalogPlan
    from atlas_cli.domain.enforcement import MetricCheck
    from atlas_cli.domain.plans import Plan
    from atlas_cli.services.demo import DemoResult
    from atlas_cli.services.fleet import FleetReport
    from atlas_cli.services.models import (
        BreakdownReport,
        CheckReport,
        HistoryReport,
        TrialReport,
        Workspace,
        WorkspaceDetail,
        WorkspaceRow,
    )
    from atlas_cli.services.plans import PlanTable
    from atlas_cli.services.schema import TuneResult

__all__ = ["Renderer", "days", "iso", "number"]

# --- JSON shapes: one function each, reused by every path that prints them ---------------


def limits_json(plan: Plan | None) -> dict[str, int | None] | None:
    if plan is None:
        return None
    return {
        "queriesPerMonth": plan.queries_per_month,
        "tokensPerMonth": plan.tokens_per_month,
        "maxMembers": plan.max_members,
        "maxConnections": plan.max_connections,
    }


def history_json(r: HistoryReport) -> dict[str, Any]:
    return {
        "workspaceId": r.workspace.id,
        "billingModel": r.workspace.billing_model,
        "period": r.kind.value,
        "timeZone": zone_name(r.zone),
        "summaries": [
            {
                "workspace_id": r.workspace.id,
                "period": r.kind.value,
                "period_start": iso(row.period_start),
                "query_count": row.query_count,
                "token_count": row.token_count,
                "active_users": row.active_users,
                "id": row.id,
                "storage_bytes": row.storage_bytes,
                "updated_at": iso(row.updated_at),
            }
            for row in r.rows
        ],
    }


def breakdown_json(r: BreakdownReport) -> dict[str, Any]:
    return {
        "workspaceId": r.workspace.id,
        "billingModel": r.workspace.billing_model,
        "timeZone": zone_name(r.zone),
        "startDate": iso(r.window.start),
        "endDate": iso(r.window.end),
        "users": [
            {
                "user_id": u.user_id,
                "query_count": u.query_count,
                "token_count": u.token_count,
                "login_count": u.login_count,
                "email": u.email,
                "name": u.name,
            }
            for u in r.users
        ],
        "noUser": {
            "query_count": r.no_user.query_count,
            "token_count": r.no_user.token_count,
            "login_count": r.no_user.login_count,
        },
    }


# Why a metric is not enforced, as `billing check` says it.
EXEMPTIONS = {"byot": "BYOT", "shown": "shown only"}


def metric_json(m: MetricCheck) -> dict[str, Any]:
    return {
        "metric": m.metric,
        "currentUsage": m.current_usage,
        "limit": m.limit,
        "usagePercent": m.usage_percent,
        "status": m.status.value,
        "enforced": m.enforced,
    }


def check_json(r: CheckReport) -> dict[str, Any]:
    d = r.decision
    return {
        "workspaceId": r.workspace.id,
        "billingModel": r.workspace.billing_model,
        "allowed": d.allowed,
        "status": str(d.status),
        "errorCode": d.error_code,
        "httpStatus": d.http_status,
        "message": d.message,
        "metrics": [metric_json(m) for m in d.metrics],
        "warnings": list(d.warnings),
        "resource": r.resource,
        "exitCode": r.exit_code,
    }


def fleet_check_json(row: Any) -> dict[str, Any]:
    """One workspace of `billing check --all`: the single check's object, plus its period."""
    return {
        **check_json(row.report),
        "periodStart": iso(row.period.start),
        "periodEnd": iso(row.period.end),
        "periodSource": row.period_source,
        "forecast": forecast_json(row.forecast),
    }


def trial_json(r: TrialReport) -> dict[str, Any]:
    return {
        "workspaceId": r.workspace.id,
        "billingModel": r.workspace.billing_model,
        "tier": r.workspace.tier_value,
        "trialEndsAt": iso(r.state.ends_at),
        "expired": r.state.expired,
        "daysLeft": r.state.days_left,
        "onTrial": r.on_trial,
    }


def workspace_json(w: Workspace) -> dict[str, Any]:
    return {
        "id": w.id,
        "name": w.name,
        "slug": w.slug,
        "tier": w.tier_value,
        "status": w.status,
        "byot": w.byot,
        "trialEndsAt": iso(w.trial_ends_at),
        "billingModel": w.billing_model,
    }


# What `workspace list` adds to each workspace's keys (JSON and the last CSV columns).
LIST_EXTRAS = ("billingStatus", "worstUsagePercent", "effectiveTrialEndsAt", "trialExpired")


def workspace_row_json(r: WorkspaceRow) -> dict[str, Any]:
    return {
        **workspace_json(r.workspace),
        "billingStatus": r.billing_status,
        "worstUsagePercent": r.worst_percent,
        "effectiveTrialEndsAt": iso(r.trial.ends_at) if r.trial else None,
        "trialExpired": r.trial.expired if r.trial else None,
    }


def _trial_cell(r: WorkspaceRow) -> str:
    """The day the trial ends (`show` has the time), for a workspace on a trial plan."""
    if r.trial is None or r.trial.ends_at is None:
        return ""
    return f"{r.trial.ends_at:%Y-%m-%d}" + (" (expired)" if r.trial.expired else "")


def workspace_detail_json(d: WorkspaceDetail) -> dict[str, Any]:
    w, plan = d.workspace, d.workspace.definition
    return {
        **workspace_json(w),
        "displayName": plan.display_name if plan else w.tier_value,
        "createdAt": iso(w.created_at),
        "stripeCustomerId": w.stripe_customer_id,
        "effectiveTrialEndsAt": iso(d.trial.ends_at) if d.trial else None,
        "trialExpired": d.trial.expired if d.trial else None,
        **counts_json(d.counts),
        "limits": plan_limits(builtin(w.billing_model), plan, d.counts["members"]),
        "subscription": None
        if d.subscription is None
        else {
            "stripeSubscriptionId": d.subscription.stripe_subscription_id,
            "plan": d.subscription.plan,
            "status": d.subscription.status,
        },
    }


_PLAN_COLUMNS = {
    "queriesPerMonth": "Queries / month",
    "tokensPerMonth": "Tokens / month",
    "maxMembers": "Members",
    "maxSeats": "Seats",
    "maxConnections": "Connections",
    "maxChatIntegrations": "Chat",
    "maxKnowledgeCollections": "Knowledge",
    "includedUsageDollarsPerSeat": "Credit $ / seat",
    "tokenBudgetPerSeat": "Tokens / seat",
    "pricePerSeat": "$ / seat",
}


def _plan_column(key: str) -> str:
    return _PLAN_COLUMNS.get(key, key)


def _plan_cell(value: Any) -> str:
    return number(value) if not isinstance(value, bool) else ("yes" if value else "no")


def resource_lines(d: WorkspaceDetail) -> list[tuple[str, str]]:
    """`workspace show`'s lines of each capped resource: in use (members: + pending) / the cap."""
    catalog, plan = builtin(d.workspace.billing_model), d.workspace.definition
    lines = []
    for feature in catalog.of_kind("limit"):
        if feature.counter is None or feature.counter not in d.counts:
            continue
        cap = plan.values.get(feature.key, 0) if plan else None
        used = d.counts[feature.counter]
        if feature.counter == "seats":
            shown = f"{d.counts['members']:,} + {d.counts['pending_invitations']:,} pending"
        else:
            shown = f"{used:,}"
        lines.append((feature.title.split(" + ")[0], f"{shown} / {number(None if isinstance(cap, bool) else cap)}"))
    return lines


def plan_json(catalog: Catalog, p: CatalogPlan) -> dict[str, Any]:
    """One plan: its limits under the API's keys (per seat where the model prices by seat), the
    trial length, and on per-seat catalogs the price and the boolean features it includes."""
    data: dict[str, Any] = {"tier": p.tier, "displayName": p.display_name, **(plan_limits(catalog, p, None) or {})}
    data["trialDays"] = catalog.policy.trial_days if p.trial else None
    if any(f.per_seat for f in catalog.features.values()):
        data["pricePerSeat"] = p.price_per_seat
    booleans = [f.key for f in catalog.of_kind("boolean")]
    if booleans:
        data["features"] = [key for key in booleans if p.entitled(key)]
    return data


def _operator_value(value: Any) -> str:
    from atlas_cli.domain.operator_catalog import shown

    return shown(value)


def unknown_tiers_fix(model: str) -> str:
    return (
        f"billing check blocks those workspaces (billing_check_failed); give each a tier of the {model} "
        "model with `atlas workspace set-plan`, or set ATLAS_BILLING_MODEL if detection chose the wrong model"
    )


def schema_json(s: SchemaState, url: str) -> dict[str, Any]:
    return {
        "database": url,
        "billingModel": s.billing_model,
        "billingModelReason": s.billing_reason,
        "ready": s.ready,
        "revision": s.revision,
        "head": s.head,
        "tables": [asdict(t) for t in s.tables],
        "missingIndexes": list(s.missing_indexes),
        "planTierValues": list(s.tiers) if s.tiers is not None else None,
        "lockedTierAllowed": bool(s.tiers and "locked" in s.tiers),
        "unknownTiers": [{"workspaceId": ws, "tier": tier} for ws, tier in s.unknown_tiers],
        "coveringIndex": covering_json(s.covering_index) if s.covering_index else None,
    }


def covering_json(index: CoveringIndex) -> dict[str, Any]:
    return {
        "name": index.name,
        "state": index.state,
        "present": index.present,
        "columns": ["workspace_id", "created_at", *index.columns],
        "partitioned": index.partitioned,
        "sizeBytes": index.size_bytes,
    }


def tune_json(r: TuneResult, url: str) -> dict[str, Any]:
    return {
        "database": url,
        "billingModel": r.billing_model,
        "action": r.action,
        "dryRun": r.dry_run,
        "changed": r.changed,
        "rebuiltInvalid": r.rebuilt_invalid,
        "statements": list(r.statements),
        "before": covering_json(r.before),
        "after": covering_json(r.after),
        "actor": r.actor,
        "auditId": r.audit_id,
    }


class Renderer(WatchViews, BillingOpsViews, EventViews, EntitlementViews, ContextViews, UsageSentViews, CreditViews):
    """Every report of atlas, in the format asked for."""

    # --- reports ---------------------------------------------------------------------------

    def history_report(self, r: HistoryReport, fmt: str) -> None:
        header = ["period_start", "query_count", "token_count", "active_users"]
        rows = [[iso(x.period_start), x.query_count, x.token_count, x.active_users] for x in r.rows]
        self._emit(fmt, history_json(r), header, rows, lambda: self._history_table(r))

    def _history_table(self, r: HistoryReport) -> None:
        from rich.text import Text

        label_size = 10 if r.kind.value == "daily" else 7  # YYYY-MM-DD or YYYY-MM, four-digit years
        top_q = max((x.query_count for x in r.rows), default=0) or 1
        top_t = max((x.token_count for x in r.rows), default=0) or 1
        rows = [
            [
                self.day(x.period_start)[:label_size],
                f"{x.query_count:,}",
                Text(chart_bar(x.query_count, top_q), style="cyan"),
                f"{x.token_count:,}",
                Text(chart_bar(x.token_count, top_t), style="magenta"),
                f"{x.active_users:,}",
            ]
            for x in r.rows
        ]
        self._print_table(
            f"{r.workspace.name}: {r.kind.value} usage ({self.zone_name}), newest first",
            ["Period", "Queries#", "", "Tokens#", "", "Active users#"],
            rows,
        )

    def breakdown_report(self, r: BreakdownReport, fmt: str) -> None:
        header = ["user_id", "email", "name", "query_count", "token_count", "login_count"]
        rows = [[u.user_id, u.email, u.name, u.query_count, u.token_count, u.login_count] for u in r.users]

        def table() -> None:
            people = [
                [
                    u.email or u.name or u.user_id or "",
                    f"{u.query_count:,}",
                    f"{u.token_count:,}",
                    f"{u.login_count:,}",
                ]
                for u in r.users
            ]
            title = f"{r.workspace.name}: usage per user, {self.days(r.window)}"
            self._print_table(title, ["User", "Queries#", "Tokens#", "Logins#"], people)
            n = r.no_user
            if n.query_count or n.token_count or n.login_count:
                self.out.print(
                    f"Without a user: {n.query_count:,} queries, {n.token_count:,} tokens, {n.login_count:,} logins"
                )

        self._emit(fmt, breakdown_json(r), header, rows, table)

    def check_report(self, r: CheckReport, fmt: str) -> None:
        d = r.decision
        if fmt == "json":
            self.json(check_json(r))
            return
        if fmt == "csv":
            self.csv(
                ["metric", "currentUsage", "limit", "usagePercent", "status", "enforced"],
                [[m.metric, m.current_usage, m.limit, m.usage_percent, m.status.value, m.enforced] for m in d.metrics],
            )
            return
        verdict = "allowed" if d.allowed else "blocked"
        if not self.plain_line(f"{verdict} · {d.status} · {d.message}"):
            from rich.text import Text

            line = Text(verdict, style="green" if d.allowed else "red")
            line.append(f" · {d.status} · {d.message}", style=STATUS_STYLE.get(str(d.status), ""))
            self.out.print(line)
        for m in d.metrics:
            pct = "" if m.usage_percent is None else f" ({m.usage_percent}%)"
            status = m.status.value if m.enforced else f"{NOT_ENFORCED} ({EXEMPTIONS.get(m.exemption or '', 'BYOT')})"
            self.out.print(f"  {m.metric}: {m.current_usage:,} / {number(m.limit)}{pct} {status}")
        for warning in d.warnings:
            self.warn(f"Warning: {warning}")

    def fleet_check(self, r: FleetReport, fmt: str) -> None:
        """`billing check --all`: the single check's JSON object of every workspace, in a list."""
        from atlas_cli.services.fleet import worst_percent

        if fmt == "json":
            # One compact object a line: json's C encoder, about 3x faster than the indenting one
            # (pure Python) on thousands of workspaces, and a line per workspace for grep.
            import sys

            from atlas_cli.render.base import json_text

            lines = ",\n".join(json_text(fleet_check_json(row)) for row in r.rows)
            sys.stdout.write(f"[\n{lines}\n]\n" if lines else "[]\n")
            return
        header = ["workspaceId", "tier", "allowed", "status", "errorCode", "httpStatus", "worstUsagePercent",
                  "exitCode", "message"]  # fmt: skip

        def rows() -> list[list[Any]]:
            return [
                [
                    row.report.workspace.id,
                    row.report.workspace.tier_value,
                    row.report.decision.allowed,
                    str(row.report.decision.status),
                    row.report.decision.error_code,
                    row.report.decision.http_status,
                    worst_percent(row.report.decision),
                    row.report.exit_code,
                    row.report.decision.message,
                ]
                for row in r.rows
            ]

        def table() -> None:
            shown = [
                [
                    w.slug or w.id,
                    w.tier_value + (" (BYOT)" if w.byot else ""),
                    "allowed" if d.allowed else "blocked",
                    self._status(str(d.status)),
                    "" if (pct := worst_percent(d)) is None else f"{pct}%",
                    str(code) if code else "",
                    d.message,
                ]
                for w, d, code in ((row.report.workspace, row.report.decision, row.report.exit_code) for row in r.rows)
            ]
            title = f"Billing check of {len(r.rows):,} workspace(s)"
            title += f", resource {r.resource}" if r.resource else ""
            self._print_table(title, ["Workspace", "Tier", "Result", "Status", "Worst#", "Exit#", "Message~"], shown)
            if not r.rows:
                self.out.print("No workspace to check.")

        if fmt == "csv":
            self.csv(header, rows())
        else:
            table()

    def trial_report(self, r: TrialReport, fmt: str) -> None:
        data = trial_json(r)

        def table() -> None:
            if not r.on_trial:
                self.out.print(f"{r.workspace.name} is not on a trial (tier {r.workspace.tier_value}).")
                return
            state = "expired" if r.state.expired else f"{r.state.days_left} day(s) left"
            self.out.print(f"{r.workspace.name}: trial ends {self.when(r.state.ends_at)} ({state})")

        self._emit(fmt, data, list(data), [list(data.values())], table)

    def trial_list(self, reports: list[TrialReport], fmt: str) -> None:
        data = [trial_json(r) for r in reports]
        header = ["workspaceId", "tier", "trialEndsAt", "expired", "daysLeft"]

        def table() -> None:
            rows = [
                [
                    r.workspace.slug or r.workspace.id,
                    r.workspace.tier_value,
                    self.when(r.state.ends_at) or "",
                    "expired" if r.state.expired else f"{r.state.days_left:,}",
                ]
                for r in reports
            ]
            self._print_table(None, ["Workspace", "Tier", "Trial ends", "Days left#"], rows)
            if not reports:
                self.out.print("No workspace is on a trial.")

        self._emit(fmt, data, header, [[d[k] for k in header] for d in data], table)

    def workspace_list(self, workspaces: list[WorkspaceRow], fmt: str) -> None:
        data = [workspace_row_json(w) for w in workspaces]
        header = ["id", "name", "slug", "tier", "status", "byot", "trialEndsAt", *LIST_EXTRAS]

        def table() -> None:
            rows = [
                [
                    r.workspace.id,
                    r.workspace.name,
                    r.workspace.slug or "",
                    r.workspace.tier_value,
                    r.workspace.status,
                    "yes" if r.workspace.byot else "",
                    self._status(r.billing_status),
                    "" if r.worst_percent is None else f"{r.worst_percent}%",
                    _trial_cell(r),
                ]
                for r in workspaces
            ]
            columns = ["Id", "Name~", "Slug", "Tier", "Status", "BYOT", "Billing", "Worst#", "Trial ends"]
            self._print_table(None, columns, rows)

        self._emit(fmt, data, header, [[w[k] for k in header] for w in data], table)

    def workspace_detail(self, d: WorkspaceDetail, fmt: str) -> None:
        data = workspace_detail_json(d)
        header = [k for k in data if k not in ("limits", "subscription")]

        def table() -> None:
            rows = [
                ("Id", data["id"]),
                ("Slug", data["slug"] or ""),
                ("Tier", f"{data['tier']} ({data['displayName']})"),
                ("Status", data["status"]),
                ("BYOT", "yes" if data["byot"] else "no"),
                ("Created", self.when(d.workspace.created_at) or ""),
                *resource_lines(d),
                ("Stripe customer", data["stripeCustomerId"] or "none"),
            ]
            if d.trial is not None:
                rows.append(("Trial ends", f"{self.when(d.trial.ends_at)}" + (" (expired)" if d.trial.expired else "")))
            if d.subscription is not None:
                rows.append(
                    (
                        "Subscription",
                        f"{d.subscription.stripe_subscription_id}: {d.subscription.plan}, {d.subscription.status}",
                    )
                )
            self._print_table(d.workspace.name, ["Field", "Value"], rows, show_header=False)

        self._emit(fmt, data, header, [[data[k] for k in header]], table)

    def plan_list(self, table: PlanTable, fmt: str) -> None:
        data = [{"billingModel": table.catalog.model, **plan_json(table.catalog, p)} for p in table.plans]
        header = [k for k in (data[0] if data else {}) if not isinstance(data[0][k], list)]

        def show() -> None:
            columns = [k for k in header if k not in ("billingModel", "tier", "displayName", "trialDays")]
            rows = [
                [
                    p["tier"],
                    p["displayName"],
                    *(_plan_cell(p[k]) for k in columns),
                    f"{p['trialDays']} days" if p["trialDays"] else "-",
                ]
                for p in data
            ]
            titles = ["Tier", "Name~", *(f"{_plan_column(k)}#" for k in columns), "Trial"]
            self._print_table(f"Plans ({table.catalog.model} billing)", titles, rows)
            for p in data:
                if p.get("features"):
                    self.out.print(f"{p['displayName']}: {', '.join(p['features'])}")

        self._emit(fmt, data, header, [[row[k] for k in header] for row in data], show)

    def plan_detail(self, table: PlanTable, fmt: str) -> None:
        (plan,) = table.plans
        data = {"billingModel": table.catalog.model, **plan_json(table.catalog, plan)}
        header = [k for k in data if not isinstance(data[k], list)]
        operator = table.operator
        features = {k: operator.value(plan.tier, k) for k in sorted(operator.features)} if operator else {}
        data["operatorFeatures"] = [
            {"feature": k, "kind": operator.features[k].kind, "value": v} for k, v in features.items() if operator
        ]

        def show() -> None:
            self.plan_list(table, "table")
            if features and operator:
                rows = [[k, operator.features[k].kind, _operator_value(v)] for k, v in features.items()]
                self._print_table("Operator features", ["Feature", "Kind", "Value~"], rows)

        self._emit(fmt, data, header, [[data[k] for k in header]], show)

    def schema_state(self, s: SchemaState, fmt: str, url: str) -> None:
        data = schema_json(s, url)

        def table() -> None:
            states = [[t.name, t.owner, self._status_word(t.state), t.detail] for t in s.tables]
            self._print_table(f"Schema of {url}", ["Table", "Owner", "State", "Detail~"], states)
            self.out.print(f"Billing model: {s.billing_model} ({s.billing_reason})")
            self.out.print(f"Migrations: {s.revision or 'not applied'} (head {s.head})")
            locked = "accepts" if data["lockedTierAllowed"] else "does not accept"
            if s.tiers is not None:
                self.out.print(f"plan_tier constraint {locked} 'locked': {', '.join(s.tiers)}")
            for index in s.missing_indexes:
                self.note(f"Missing index on {index}: queries will be slow (Atlas owns the table; atlas leaves it).")
            for ws, tier in s.unknown_tiers:
                self.out.print(f"Workspace {ws} is on the tier {tier!r}, unknown to the {s.billing_model} model.")
            self._covering_line(s.covering_index)
            if s.ready:
                self.out.print("Ready.")
            elif not s.schema_ready:
                self.out.print("Not ready: run `atlas db upgrade` (or `atlas db init` on an empty database).")
            else:
                self.out.print(f"Not ready: {unknown_tiers_fix(s.billing_model)}")

        rows = [[t.name, t.owner, t.state, t.detail] for t in s.tables]
        self._emit(fmt, data, ["table", "owner", "state", "detail"], rows, table)

    def _covering_line(self, index: CoveringIndex | None) -> None:
        if index is None:
            return
        if index.state == "present":
            self.out.print(f"Covering index {index.name}: present ({number(index.size_bytes or 0)} bytes).")
        elif index.state == "invalid":
            self.out.print(
                f"Covering index {index.name}: INVALID (a build failed): `atlas db tune --covering-index` rebuilds it."
            )
        else:
            self.out.print(f"Covering index {index.name}: not created (optional: `atlas db tune --covering-index`).")

    def tune_result(self, r: TuneResult, fmt: str, url: str) -> None:
        data = tune_json(r, url)
        rows = [[i + 1, statement] for i, statement in enumerate(r.statements)]

        def table() -> None:
            name = r.after.name
            if r.dry_run:
                word = "Would run" if r.statements else "Nothing to run"
                self.out.print(f"{word} on {url} (dry run, nothing changed):")
            for statement in r.statements:
                self.out.print(f"  {statement};")
            if r.dry_run:
                return
            if not r.statements:
                there = "already there" if r.action == "add" else "not there"
                self.out.print(f"Covering index {name} is {there}; nothing changed.")
                return
            if r.rebuilt_invalid:
                self.note(f"Dropped the invalid {name} a failed build had left, and built it again.")
            done = "added" if r.action == "add" else "dropped"
            self.out.print(f"Covering index {name} {done} (audit {r.audit_id}).")

        self._emit(fmt, data, ["step", "statement"], rows, table)

    def _status_word(self, state: str) -> Any:
        from rich.text import Text

        return Text(state, style={"present": "green", "missing": "yellow", "incompatible": "red"}.get(state, ""))

    def demo_result(self, r: DemoResult, url: str) -> None:
        if r.created:
            self.note(f"Loaded {r.workspaces} demo workspaces and {r.events:,} events into {url}.")
        else:
            self.note(f"The demo data is already in {url}; nothing was added.")
        self.note(f"Try: atlas workspace list · atlas usage show -w {r.shown} · atlas billing check -w initech")
