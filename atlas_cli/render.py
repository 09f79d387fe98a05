"""All terminal output: Rich tables and bars for people, JSON and CSV for scripts.

Data goes to stdout; progress, notes and errors go to stderr. The JSON shapes of `usage show`,
`usage history`, `usage breakdown` and `billing status` are the Atlas admin API's own.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from atlas_cli.db.migrate import SchemaState
    from atlas_cli.domain.enforcement import MetricCheck
    from atlas_cli.domain.plans import Plan
    from atlas_cli.services.demo import DemoResult
    from atlas_cli.services.models import (
        BillingStatus,
        BreakdownReport,
        CheckReport,
        HistoryReport,
        TrialReport,
        UsageReport,
        Workspace,
        WorkspaceDetail,
    )

STATUS_STYLE = {
    "ok": "green",
    "warning": "yellow",
    "soft_limit": "dark_orange",
    "hard_limit": "red",
    "trial_expired": "red",
    "subscription_required": "red",
    "billing_check_failed": "red",
    "at limit": "yellow",
}


CHART_WIDTH = 12  # characters of the longest bar in `usage history`'s chart


def days(window: Any) -> str:
    """A half-open window as the inclusive days it covers: `2026-11-01 – 2026-11-30`."""
    from datetime import timedelta

    last = window.end - timedelta(microseconds=1)
    return f"{window.start:%Y-%m-%d} – {last:%Y-%m-%d}"


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 UTC with milliseconds and a Z, as the Atlas API writes times."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def number(value: int | None, unlimited: str = "Unlimited") -> str:
    return unlimited if value is None else f"{value:,}"


# --- JSON shapes: one function each, reused by every path that prints them ---------------


def usage_json(r: UsageReport) -> dict[str, Any]:
    plan = r.workspace.plan
    return {
        "workspaceId": r.workspace.id,
        "queryCount": r.queries,
        "tokenCount": r.tokens,
        "activeUsers": r.active_users,
        "periodStart": iso(r.period.start),
        "periodEnd": iso(r.period.end),
        "tier": r.workspace.tier_value,
        "status": r.decision.status,
        "limits": limits_json(plan),
        "members": r.counts.members,
        "pendingInvitations": r.counts.pending_invitations,
        "connections": r.counts.connections,
        "trialEndsAt": iso(r.trial.ends_at) if r.trial else None,
    }


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
        "period": r.kind.value,
        "summaries": [
            {
                "workspace_id": r.workspace.id,
                "period": r.kind.value,
                "period_start": iso(row.period_start),
                "query_count": row.query_count,
                "token_count": row.token_count,
                "active_users": row.active_users,
            }
            for row in r.rows
        ],
    }


def breakdown_json(r: BreakdownReport) -> dict[str, Any]:
    return {
        "workspaceId": r.workspace.id,
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
    }


def billing_status_json(r: BillingStatus) -> dict[str, Any]:
    plan = r.workspace.plan
    sub = r.subscription
    return {
        "workspaceId": r.workspace.id,
        "plan": {
            "tier": r.workspace.tier_value,
            "displayName": plan.display_name if plan else r.workspace.tier_value,
            "byot": r.workspace.byot,
            "trialEndsAt": iso(r.trial.ends_at if r.trial else r.workspace.trial_ends_at),
        },
        "limits": limits_json(plan),
        "usage": {
            "queryCount": r.queries.current_usage,
            "tokenCount": r.tokens.current_usage,
            "queryUsagePercent": r.queries.usage_percent,
            "tokenUsagePercent": r.tokens.usage_percent,
            "queryOverageStatus": r.queries.status.value,
            "tokenOverageStatus": r.tokens.status.value,
            "periodStart": iso(r.period.start),
            "periodEnd": iso(r.period.end),
        },
        "subscription": None
        if sub is None
        else {
            "stripeSubscriptionId": sub.stripe_subscription_id,
            "plan": sub.plan,
            "status": sub.status,
            "periodStart": iso(sub.period_start),
            "periodEnd": iso(sub.period_end),
            "cancelAtPeriodEnd": sub.cancel_at_period_end,
        },
    }


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


def trial_json(r: TrialReport) -> dict[str, Any]:
    return {
        "workspaceId": r.workspace.id,
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
    }


def workspace_detail_json(d: WorkspaceDetail) -> dict[str, Any]:
    w, plan = d.workspace, d.workspace.plan
    return {
        **workspace_json(w),
        "displayName": plan.display_name if plan else w.tier_value,
        "createdAt": iso(w.created_at),
        "stripeCustomerId": w.stripe_customer_id,
        "effectiveTrialEndsAt": iso(d.trial.ends_at) if d.trial else None,
        "trialExpired": d.trial.expired if d.trial else None,
        "members": d.counts.members,
        "pendingInvitations": d.counts.pending_invitations,
        "connections": d.counts.connections,
        "limits": limits_json(plan),
        "subscription": None
        if d.subscription is None
        else {
            "stripeSubscriptionId": d.subscription.stripe_subscription_id,
            "plan": d.subscription.plan,
            "status": d.subscription.status,
        },
    }


def plan_json(p: Plan) -> dict[str, Any]:
    return {"tier": p.tier.value, "displayName": p.display_name, **(limits_json(p) or {}), "trialDays": p.trial_days}


def schema_json(s: SchemaState, url: str) -> dict[str, Any]:
    return {
        "database": url,
        "ready": s.ready,
        "revision": s.revision,
        "head": s.head,
        "tables": [asdict(t) for t in s.tables],
        "missingIndexes": list(s.missing_indexes),
        "planTierValues": list(s.tiers) if s.tiers is not None else None,
        "lockedTierAllowed": bool(s.tiers and "locked" in s.tiers),
    }


class Renderer:
    """Writes reports in the chosen format; Rich is imported only for people's output."""

    def __init__(self, *, no_color: bool = False) -> None:
        self._no_color = no_color

    @cached_property
    def out(self) -> Console:
        from rich.console import Console

        return Console(no_color=self._no_color or None, markup=False, highlight=False, emoji=False)

    @cached_property
    def err(self) -> Console:
        from rich.console import Console

        return Console(stderr=True, no_color=self._no_color or None, markup=False, highlight=False, emoji=False)

    # --- plumbing -------------------------------------------------------------------------

    def error(self, message: str) -> None:
        sys.stderr.write(f"Error: {message}\n")

    def note(self, message: str) -> None:
        sys.stderr.write(f"{message}\n")

    def json(self, data: Any) -> None:
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")

    def csv(self, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(["" if v is None else v for v in row] for row in rows)

    def _emit(
        self, fmt: str, data: Any, header: Sequence[str], rows: Sequence[Sequence[Any]], table: Callable[[], None]
    ) -> None:
        if fmt == "json":
            self.json(data)
        elif fmt == "csv":
            self.csv(header, rows)
        else:
            table()

    @contextmanager
    def progress(self, label: str) -> Iterator[Callable[[int, int], None] | None]:
        """A progress bar on stderr when it is a terminal; nothing otherwise."""
        if not sys.stderr.isatty():
            yield None
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(
            TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=self.err, transient=True
        ) as bar:
            task = bar.add_task(label, total=None)

            def advance(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            yield advance

    def _table(self, title: str | None = None, *columns: str, **kwargs: Any) -> Table:
        from rich.table import Table

        table = Table(title=title, title_justify="left", **kwargs)
        for column in columns:
            table.add_column(column.rstrip("#"), justify="right" if column.endswith("#") else "left")
        return table

    def _bar(self, used: int, limit: int | None, status: str) -> Any:
        from rich.progress_bar import ProgressBar
        from rich.text import Text

        if limit is None:
            return Text("Unlimited", style="dim")
        if limit <= 0:
            return Text("not allowed", style="red")
        return ProgressBar(
            total=limit,
            completed=min(used, limit),
            width=30,
            complete_style=STATUS_STYLE.get(status, "green"),
            finished_style=STATUS_STYLE.get(status, "green"),
        )

    def _status(self, status: str) -> Any:
        from rich.text import Text

        return Text(status, style=STATUS_STYLE.get(status, ""))

    # --- reports ---------------------------------------------------------------------------

    def usage_report(self, r: UsageReport, fmt: str) -> None:
        data = usage_json(r)
        header = list(data)
        header.remove("limits")
        self._emit(fmt, data, header, [[data[k] for k in header]], lambda: self._usage_table(r))

    def _usage_table(self, r: UsageReport) -> None:
        from rich.text import Text

        from atlas_cli.domain.overage import status_for, usage_percent

        ws, plan = r.workspace, r.workspace.plan
        title = f"{ws.name} ({ws.slug or ws.id}) · {plan.display_name if plan else ws.tier_value} plan"
        table = self._table(title, "Metric", "Used#", "Limit#", "", "%#", "Status")
        rows = [
            ("Queries", r.queries, plan.queries_per_month if plan else None, True),
            (
                "Tokens" + (" (BYOT, not enforced)" if ws.byot else ""),
                r.tokens,
                plan.tokens_per_month if plan else None,
                True,
            ),
            ("Members + invitations", r.counts.seats, plan.max_members if plan else None, False),
            ("Connections", r.counts.connections, plan.max_connections if plan else None, False),
        ]
        for label, used, limit, metered in rows:
            if metered:
                status = status_for(used, limit).value
            else:
                status = "at limit" if limit is not None and used >= limit else "ok"
            pct = usage_percent(used, limit)
            table.add_row(
                label,
                f"{used:,}",
                number(limit),
                self._bar(used, limit, status),
                "" if pct is None else f"{pct}%",
                self._status(status),
            )
        table.add_row("Active users", f"{r.active_users:,}", "", "", "", "")
        self.out.print(table)
        period = f"Billing period {days(r.period)} (UTC)"
        self.out.print(Text(period, style="dim"))
        if r.trial is not None:
            state = "expired" if r.trial.expired else f"{r.trial.days_left} day(s) left"
            self.out.print(f"Trial ends {iso(r.trial.ends_at)} ({state})")
        line = Text("Overall: ")
        line.append(str(r.decision.status), style=STATUS_STYLE.get(str(r.decision.status), ""))
        line.append(f" · {r.decision.message}")
        self.out.print(line, soft_wrap=True)

    def history_report(self, r: HistoryReport, fmt: str) -> None:
        header = ["period_start", "query_count", "token_count", "active_users"]
        rows = [[iso(x.period_start), x.query_count, x.token_count, x.active_users] for x in r.rows]
        self._emit(fmt, history_json(r), header, rows, lambda: self._history_table(r))

    def _history_table(self, r: HistoryReport) -> None:
        from rich.text import Text

        fmt = "%Y-%m-%d" if r.kind.value == "daily" else "%Y-%m"
        table = self._table(
            f"{r.workspace.name}: {r.kind.value} usage, newest first",
            "Period",
            "Queries#",
            "",
            "Tokens#",
            "",
            "Active users#",
        )
        top_q = max((x.query_count for x in r.rows), default=0) or 1
        top_t = max((x.token_count for x in r.rows), default=0) or 1
        for x in r.rows:
            table.add_row(
                x.period_start.strftime(fmt),
                f"{x.query_count:,}",
                Text("█" * round(CHART_WIDTH * x.query_count / top_q), style="cyan"),
                f"{x.token_count:,}",
                Text("█" * round(CHART_WIDTH * x.token_count / top_t), style="magenta"),
                f"{x.active_users:,}",
            )
        self.out.print(table)

    def breakdown_report(self, r: BreakdownReport, fmt: str) -> None:
        header = ["user_id", "email", "name", "query_count", "token_count", "login_count"]
        rows = [[u.user_id, u.email, u.name, u.query_count, u.token_count, u.login_count] for u in r.users]

        def table() -> None:
            self.out.print(f"{r.workspace.name}: usage per user, {days(r.window)} (UTC)", soft_wrap=True)
            t = self._table(None, "User", "Queries#", "Tokens#", "Logins#")
            for u in r.users:
                who = u.email or u.name or u.user_id or "(no user)"
                t.add_row(who, f"{u.query_count:,}", f"{u.token_count:,}", f"{u.login_count:,}")
            self.out.print(t)

        self._emit(fmt, breakdown_json(r), header, rows, table)

    def billing_status(self, r: BillingStatus, fmt: str) -> None:
        data = billing_status_json(r)
        header = [
            "workspaceId",
            "tier",
            "byot",
            "queryCount",
            "queryUsagePercent",
            "queryOverageStatus",
            "tokenCount",
            "tokenUsagePercent",
            "tokenOverageStatus",
            "periodStart",
            "periodEnd",
        ]
        flat = {**data, **data["usage"], "tier": r.workspace.tier_value, "byot": r.workspace.byot}
        self._emit(fmt, data, header, [[flat[k] for k in header]], lambda: self._billing_table(r))

    def _billing_table(self, r: BillingStatus) -> None:
        ws, plan = r.workspace, r.workspace.plan
        table = self._table(
            f"{ws.name}: {plan.display_name if plan else ws.tier_value} plan" + (" · BYOT" if ws.byot else ""),
            "Metric",
            "Used#",
            "Limit#",
            "",
            "%#",
            "Status",
        )
        for m in (r.queries, r.tokens):
            label = m.metric.capitalize() + ("" if m.enforced else " (not enforced)")
            table.add_row(
                label,
                f"{m.current_usage:,}",
                number(m.limit),
                self._bar(m.current_usage, m.limit, m.status),
                "" if m.usage_percent is None else f"{m.usage_percent}%",
                self._status(m.status.value),
            )
        self.out.print(table)
        self.out.print(f"Period {iso(r.period.start)} → {iso(r.period.end)}")
        if r.trial is not None:
            self.out.print(f"Trial ends {iso(r.trial.ends_at)}" + (" (expired)" if r.trial.expired else ""))
        if r.subscription is not None:
            s = r.subscription
            cancel = ", cancels at period end" if s.cancel_at_period_end else ""
            self.out.print(f"Subscription {s.stripe_subscription_id or s.id}: {s.plan}, {s.status}{cancel}")
        else:
            self.out.print("No subscription")

    def check_report(self, r: CheckReport, fmt: str) -> None:
        d = r.decision
        header = ["workspaceId", "allowed", "status", "errorCode", "httpStatus", "message"]
        data = check_json(r)
        if fmt == "json":
            self.json(data)
            return
        if fmt == "csv":
            self.csv(
                ["metric", "currentUsage", "limit", "usagePercent", "status", "enforced"],
                [[m.metric, m.current_usage, m.limit, m.usage_percent, m.status.value, m.enforced] for m in d.metrics],
            )
            return
        del header
        from rich.text import Text

        line = Text("allowed" if d.allowed else "blocked", style="green" if d.allowed else "red")
        line.append(f" · {d.status} · {d.message}", style=STATUS_STYLE.get(str(d.status), ""))
        self.out.print(line, soft_wrap=True)
        for m in d.metrics:
            pct = "" if m.usage_percent is None else f" ({m.usage_percent}%)"
            extra = "" if m.enforced else ", not enforced (BYOT)"
            self.out.print(f"  {m.metric}: {m.current_usage:,} / {number(m.limit)}{pct} {m.status.value}{extra}")
        for warning in d.warnings:
            self.note(f"Warning: {warning}")

    def trial_report(self, r: TrialReport, fmt: str) -> None:
        data = trial_json(r)

        def table() -> None:
            if not r.on_trial:
                self.out.print(f"{r.workspace.name} is not on a trial (tier {r.workspace.tier_value}).")
                return
            state = "expired" if r.state.expired else f"{r.state.days_left} day(s) left"
            self.out.print(f"{r.workspace.name}: trial ends {iso(r.state.ends_at)} ({state})")

        self._emit(fmt, data, list(data), [list(data.values())], table)

    def workspace_list(self, workspaces: list[Workspace], fmt: str) -> None:
        data = [workspace_json(w) for w in workspaces]
        header = ["id", "name", "slug", "tier", "status", "byot", "trialEndsAt"]

        def table() -> None:
            t = self._table(None, "Id", "Name", "Slug", "Tier", "Status", "BYOT", "Trial ends")
            for w in data:
                t.add_row(
                    w["id"],
                    w["name"],
                    w["slug"] or "",
                    w["tier"],
                    w["status"],
                    "yes" if w["byot"] else "",
                    w["trialEndsAt"] or "",
                )
            self.out.print(t)

        self._emit(fmt, data, header, [[w[k] for k in header] for w in data], table)

    def workspace_detail(self, d: WorkspaceDetail, fmt: str) -> None:
        data = workspace_detail_json(d)
        header = [k for k in data if k not in ("limits", "subscription")]

        def table() -> None:
            t = self._table(f"{d.workspace.name}", "Field", "Value", show_header=False)
            limits = data["limits"] or {}
            rows = [
                ("Id", data["id"]),
                ("Slug", data["slug"] or ""),
                ("Tier", f"{data['tier']} ({data['displayName']})"),
                ("Status", data["status"]),
                ("BYOT", "yes" if data["byot"] else "no"),
                ("Created", data["createdAt"] or ""),
                (
                    "Members",
                    f"{d.counts.members:,} + {d.counts.pending_invitations:,} pending / "
                    f"{number(limits.get('maxMembers'))}",
                ),
                ("Connections", f"{d.counts.connections:,} / {number(limits.get('maxConnections'))}"),
                ("Stripe customer", data["stripeCustomerId"] or "none"),
            ]
            if d.trial is not None:
                rows.append(
                    ("Trial ends", f"{data['effectiveTrialEndsAt']}" + (" (expired)" if d.trial.expired else ""))
                )
            if d.subscription is not None:
                rows.append(
                    (
                        "Subscription",
                        f"{d.subscription.stripe_subscription_id}: {d.subscription.plan}, {d.subscription.status}",
                    )
                )
            for row in rows:
                t.add_row(*row)
            self.out.print(t)

        self._emit(fmt, data, header, [[data[k] for k in header]], table)

    def plan_list(self, plans: list[Plan], fmt: str) -> None:
        data = [plan_json(p) for p in plans]
        header = [
            "tier",
            "displayName",
            "queriesPerMonth",
            "tokensPerMonth",
            "maxMembers",
            "maxConnections",
            "trialDays",
        ]

        def table() -> None:
            t = self._table(
                None, "Tier", "Name", "Queries/month#", "Tokens/month#", "Members#", "Connections#", "Trial"
            )
            for p in plans:
                t.add_row(
                    p.tier.value,
                    p.display_name,
                    number(p.queries_per_month),
                    number(p.tokens_per_month),
                    number(p.max_members),
                    number(p.max_connections),
                    f"{p.trial_days} days" if p.trial_days else "-",
                )
            self.out.print(t)

        self._emit(fmt, data, header, [[row[k] for k in header] for row in data], table)

    def plan_detail(self, p: Plan, fmt: str) -> None:
        data = plan_json(p)
        self._emit(fmt, data, list(data), [list(data.values())], lambda: self.plan_list([p], "table"))

    def schema_state(self, s: SchemaState, fmt: str, url: str) -> None:
        data = schema_json(s, url)

        def table() -> None:
            t = self._table(f"Schema of {url}", "Table", "Owner", "State", "Detail")
            for table_state in s.tables:
                t.add_row(table_state.name, table_state.owner, self._status_word(table_state.state), table_state.detail)
            self.out.print(t)
            self.out.print(f"Migrations: {s.revision or 'not applied'} (head {s.head})")
            locked = "accepts" if data["lockedTierAllowed"] else "does not accept"
            if s.tiers is not None:
                self.out.print(f"plan_tier constraint {locked} 'locked': {', '.join(s.tiers)}")
            for index in s.missing_indexes:
                self.note(f"Missing index on {index}: queries will be slow (Atlas owns the table; atlas leaves it).")
            self.out.print(
                "Ready." if s.ready else "Not ready: run `atlas db upgrade` (or `atlas db init` on an empty database)."
            )

        rows = [[t.name, t.owner, t.state, t.detail] for t in s.tables]
        self._emit(fmt, data, ["table", "owner", "state", "detail"], rows, table)

    def _status_word(self, state: str) -> Any:
        from rich.text import Text

        return Text(state, style={"present": "green", "missing": "yellow", "incompatible": "red"}.get(state, ""))

    def demo_result(self, r: DemoResult, url: str) -> None:
        if r.created:
            self.note(f"Loaded {r.workspaces} demo workspaces and {r.events:,} events into {url}.")
        else:
            self.note(f"The demo data is already in {url}; nothing was added.")
        self.note(f"Try: atlas workspace list · atlas usage show -w {r.shown} · atlas billing check -w initech")

    # === billing operations: JSON shapes and renderers ===========================
    # JSON shapes are static methods so that this block stays inside the Renderer class.

    @staticmethod
    def change_json(r: Any) -> dict[str, Any]:
        """A write: `{"workspaceId", <the columns it sets>, "changed", "dryRun", "before", "after"}`."""
        return {
            "workspaceId": r.workspace_id,
            **r.values,
            "action": r.action,
            "actor": r.actor,
            "changed": r.changed,
            "dryRun": r.dry_run,
            "before": r.before,
            "after": r.after,
            "auditId": r.audit_id,
        }

    def change_result(self, r: Any, fmt: str) -> None:
        data = self.change_json(r)

        def text() -> None:
            if not r.changed:
                self.out.print(f"{r.workspace_id}: nothing to change ({self._pairs(r.values)}).")
                return
            verb = "Would change" if r.dry_run else "Changed"
            self.out.print(f"{verb} {r.workspace_id} ({r.action}): {self._pairs(r.before)} → {self._pairs(r.after)}")
            if r.dry_run:
                self.note("Dry run: nothing was written.")

        header = ["workspaceId", *r.values, "changed", "dryRun"]
        self._emit(fmt, data, header, [[data[k] for k in header]], text)

    @staticmethod
    def _pairs(values: dict[str, Any]) -> str:
        return ", ".join(f"{k}={v}" for k, v in values.items()) or "-"

    @staticmethod
    def audit_json(e: Any) -> dict[str, Any]:
        return {
            "id": e.id,
            "workspaceId": e.workspace_id,
            "createdAt": iso(e.created_at),
            "actor": e.actor,
            "action": e.action,
            "before": e.before,
            "after": e.after,
        }

    def audit_list(self, entries: list[Any], fmt: str) -> None:
        data = [self.audit_json(e) for e in entries]
        header = ["createdAt", "workspaceId", "actor", "action", "before", "after"]
        rows = [
            [d["createdAt"], d["workspaceId"], d["actor"], d["action"], json.dumps(d["before"]), json.dumps(d["after"])]
            for d in data
        ]

        def table() -> None:
            t = self._table(None, "When", "Workspace", "Actor", "Action", "Before", "After")
            for row in rows:
                t.add_row(*row)
            self.out.print(t)

        self._emit(fmt, data, header, rows, table)

    def portal_url(self, url: str, fmt: str) -> None:
        self._emit(fmt, {"url": url}, ["url"], [[url]], lambda: print(url))

    @staticmethod
    def sync_json(row: Any) -> dict[str, Any]:
        return {
            "workspaceId": row.workspace_id,
            "customerId": row.customer_id,
            "subscriptionId": row.subscription_id,
            "status": row.status,
            "outcome": row.outcome,
            "changed": row.changed,
            "before": row.before,
            "after": row.after,
            "why": row.why,
        }

    def sync_report(self, r: Any, fmt: str) -> None:
        data = [{**self.sync_json(row), "dryRun": r.dry_run} for row in r.rows]
        header = ["workspaceId", "subscriptionId", "status", "outcome", "changed", "before", "after", "why"]
        rows = [
            [
                d["workspaceId"],
                d["subscriptionId"],
                d["status"],
                d["outcome"],
                d["changed"],
                self._pairs(d["before"]),
                self._pairs(d["after"]),
                d["why"],
            ]
            for d in data
        ]

        def table() -> None:
            title = "Stripe sync (dry run: nothing written)" if r.dry_run else "Stripe sync"
            t = self._table(title, "Workspace", "Before", "After", "Why")
            for d, row in zip(data, rows, strict=True):
                t.add_row(
                    d["workspaceId"], row[5] if d["changed"] else "", row[6] if d["changed"] else "unchanged", d["why"]
                )
            self.out.print(t)

        self._emit(fmt, data, header, rows, table)
        for row in r.rows:
            if row.outcome in ("unknown_price", "no_subscription"):
                self.note(f"Warning: {row.workspace_id}: {row.why}")

    @staticmethod
    def webhook_json(r: Any) -> dict[str, Any]:
        return {
            "eventId": r.event_id,
            "type": r.event_type,
            "outcome": r.outcome,
            "workspaceId": r.workspace_id,
            "subscriptionId": r.subscription_id,
            "changed": r.changed,
            "before": r.before,
            "after": r.after,
            "why": r.why,
        }

    def webhook_result(self, r: Any, fmt: str) -> None:
        data = self.webhook_json(r)
        header = ["eventId", "type", "outcome", "workspaceId", "subscriptionId", "changed", "why"]
        self._emit(
            fmt,
            data,
            header,
            [[data[k] for k in header]],
            lambda: self.out.print(f"{r.event_id} ({r.event_type}): {r.outcome}. {r.why}"),
        )

    @staticmethod
    def setting_json(item: Any) -> dict[str, Any]:
        return {"name": item.name, "value": item.value, "source": item.source}

    def config_report(self, items: list[Any], fmt: str) -> None:
        data = [self.setting_json(i) for i in items]
        rows = [[d["name"], d["value"], d["source"]] for d in data]

        def table() -> None:
            t = self._table("Effective settings", "Setting", "Value", "From")
            for name, value, source in rows:
                t.add_row(name, "" if value is None else str(value), source)
            self.out.print(t)

        self._emit(fmt, data, ["name", "value", "source"], rows, table)

    @staticmethod
    def check_json(c: Any) -> dict[str, Any]:
        state = "skipped" if c.ok is None else ("ok" if c.ok else "failed")
        return {"check": c.name, "status": state, "detail": c.detail, "fix": c.fix}

    def doctor_report(self, r: Any, fmt: str) -> None:
        data = {"ok": r.ok, "checks": [self.check_json(c) for c in r.checks]}
        rows = [[d["check"], d["status"], d["detail"], d["fix"] or ""] for d in data["checks"]]

        def table() -> None:
            t = self._table("atlas doctor", "Check", "Status", "Detail")
            for name, state, detail, _fix in rows:
                t.add_row(name, self._status(state), detail)
            self.out.print(t)
            for name, state, _detail, fix in rows:
                if state == "failed" and fix:
                    self.out.print(f"To fix {name}: {fix}")
            self.out.print("All checks passed." if r.ok else "Some checks failed.")

        self._emit(fmt, data, ["check", "status", "detail", "fix"], rows, table)

    # === end of billing operations block ====================================================

    # === usage events: record, ingest, aggregate, verify, export =================
    # JSON shapes are static methods so that this block stays inside the Renderer class.

    @staticmethod
    def record_json(r: Any) -> dict[str, Any]:
        """`usage record`: {"id", "workspaceId", "eventType", "quantity", "createdAt", "duplicate"}."""
        return {
            "id": r.id,
            "workspaceId": r.workspace_id,
            "eventType": r.event_type,
            "quantity": r.quantity,
            "createdAt": iso(r.created_at),
            "duplicate": r.duplicate,
            "userId": r.user_id,
            "generatedId": r.generated_id,
        }

    def record_result(self, r: Any, fmt: str) -> None:
        data = self.record_json(r)

        def text() -> None:
            if r.duplicate:
                self.out.print(f"Duplicate: event {r.id} was already recorded; not counted again.")
            else:
                self.out.print(f"Recorded {r.event_type} x{r.quantity:,} for {r.workspace_id} (id {r.id}).")

        header = ["id", "workspaceId", "eventType", "quantity", "createdAt", "duplicate"]
        self._emit(fmt, data, header, [[data[k] for k in header]], text)

    @staticmethod
    def ingest_json(r: Any) -> dict[str, Any]:
        import signal

        return {
            "lines": r.lines,
            "accepted": r.accepted,
            "duplicates": r.duplicates,
            "rejected": r.rejected,
            "generatedIds": r.generated_ids,
            "spooled": r.spooled,
            "spoolFile": str(r.spool_file) if r.spool_file else None,
            "rejectsFile": str(r.rejects_file) if r.rejects_file else None,
            "stoppedBy": signal.Signals(r.signal).name if r.signal else None,
            "failure": r.failure,
            "exitCode": r.exit_code,
            "rejections": [{"line": x.line, "reason": x.reason} for x in r.rejections],
        }

    def rejection_printer(self, rejects_file: Any, shown: int = 10) -> Callable[[Any], None]:
        """Prints each rejected line on stderr; with a rejects file, only the first `shown`."""
        printed = [0]

        def show(x: Any) -> None:
            if rejects_file is None or printed[0] < shown:
                self.note(f"line {x.line}: {x.reason}")
            printed[0] += 1

        return show

    def ingest_report(self, r: Any, as_json: bool) -> None:
        data = self.ingest_json(r)
        self.note(
            f"Read {r.lines:,} event line(s): {r.accepted:,} accepted, {r.duplicates:,} duplicate(s), "
            f"{r.rejected:,} rejected; {r.generated_ids:,} given a new id (not recognisable if sent again)."
        )
        if r.rejected and r.rejects_file:
            self.note(f"Rejected lines, with reasons, are in {r.rejects_file}: fix them and ingest that file.")
        if data["stoppedBy"]:
            self.note(f"Stopped by {data['stoppedBy']} after writing the waiting batch.")
        if r.failure:
            self.error(f"database failed, writing stopped after {r.accepted + r.duplicates:,} event(s): {r.failure}")
        if r.spooled:
            self.note(
                f"{r.spooled:,} unwritten event(s) kept in {r.spool_file}; "
                f"run `atlas usage ingest {r.spool_file}` when the database is back (nothing is counted twice)."
            )
        if as_json:
            self.json(data)

    @staticmethod
    def aggregate_json(r: Any) -> dict[str, Any]:
        return {
            "workspaceId": r.workspace_id,
            "all": r.workspace_id is None,
            "since": iso(r.since),
            "until": iso(r.until),
            "rowsUpserted": r.rows,
            "periods": [{"period": k.period, "periods": k.periods, "rowsUpserted": k.rows} for k in r.kinds],
        }

    def aggregate_report(self, r: Any, fmt: str) -> None:
        data = self.aggregate_json(r)
        rows = [[k.period, k.periods, k.rows] for k in r.kinds]

        def text() -> None:
            scope = "every workspace" if r.workspace_id is None else r.workspace_id
            parts = ", ".join(f"{k.rows:,} {k.period}" for k in r.kinds)
            self.out.print(f"Recomputed summaries of {scope} since {iso(r.since)}: {parts} row(s) upserted.")

        self._emit(fmt, data, ["period", "periods", "rowsUpserted"], rows, text)

    @staticmethod
    def mismatch_json(m: Any) -> dict[str, Any]:
        names = ("query_count", "token_count", "active_users")
        return {
            "workspace_id": m.workspace_id,
            "period": m.period,
            "period_start": iso(m.period_start),
            "stored": None if m.stored is None else dict(zip(names, m.stored, strict=True)),
            "actual": dict(zip(names, m.actual, strict=True)),
        }

    @staticmethod
    def verify_json(r: Any) -> dict[str, Any]:
        return {
            "workspaceId": r.workspace_id,
            "all": r.workspace_id is None,
            "since": iso(r.since),
            "until": iso(r.until),
            "periods": list(r.periods),
            "ok": not r.mismatches,
            "mismatches": [Renderer.mismatch_json(m) for m in r.mismatches],
        }

    def verify_report(self, r: Any, fmt: str) -> None:
        header = [
            "workspace_id",
            "period",
            "period_start",
            "stored_query_count",
            "query_count",
            "stored_token_count",
            "token_count",
            "stored_active_users",
            "active_users",
        ]
        rows = []
        for m in r.mismatches:
            stored = m.stored or (None, None, None)
            rows.append(
                [
                    m.workspace_id,
                    m.period,
                    iso(m.period_start),
                    stored[0],
                    m.actual[0],
                    stored[1],
                    m.actual[1],
                    stored[2],
                    m.actual[2],
                ]
            )

        def table() -> None:
            if not r.mismatches:
                self.out.print(f"Summaries match the raw events ({', '.join(r.periods)}, since {iso(r.since)}).")
                return
            t = self._table(
                f"{len(r.mismatches):,} mismatch(es): stored → actual",
                "Workspace",
                "Period",
                "Start",
                "Queries",
                "Tokens",
                "Active users",
            )
            for row in rows:
                cells = [
                    f"{'missing' if s is None else f'{s:,}'} → {a:,}"
                    for s, a in ((row[3], row[4]), (row[5], row[6]), (row[7], row[8]))
                ]
                t.add_row(row[0], row[1], (row[2] or "")[:10], *cells)
            self.out.print(t)

        self._emit(fmt, self.verify_json(r), header, rows, table)

    @contextmanager
    def event_writer(self, fmt: str) -> Iterator[Callable[[dict[str, Any]], None]]:
        """Writes raw events to stdout one at a time, as ndjson or csv (what ingest reads)."""
        from atlas_cli.domain.events import FIELDS, iso_micro

        if fmt not in ("ndjson", "csv"):
            from atlas_cli.errors import BadInput

            raise BadInput(f"--format: {fmt!r} is not one of ndjson, csv")
        out = sys.stdout
        writer = csv.writer(out, lineterminator="\n")
        if fmt == "csv":
            writer.writerow(FIELDS)

        def emit(row: dict[str, Any]) -> None:
            record = {**row, "created_at": iso_micro(row["created_at"])}
            if fmt == "ndjson":
                out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
                return
            meta = record["metadata"]
            record["metadata"] = "" if meta is None else json.dumps(meta, ensure_ascii=False)
            writer.writerow(["" if record[k] is None else record[k] for k in FIELDS])

        yield emit
        out.flush()

    # === end of usage events block ===========================================================
