"""Output of entitlements (check, list, overrides) and of the operator catalog (pull, push, history)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from atlas_cli.render.base import Output, iso

if TYPE_CHECKING:
    from atlas_cli.domain.entitlements import Decision
    from atlas_cli.domain.operator_catalog import Change
    from atlas_cli.services.catalogs import HistoryResult, PullResult, PushResult
    from atlas_cli.services.entitlements import EntitlementList, OverrideResult

LIST_COLUMNS = (
    "feature", "kind", "value", "source", "used", "limit", "remaining", "allowed", "reason", "until", "balance",
)  # fmt: skip


def decision_json(d: Decision) -> dict[str, Any]:
    """`entitlements check`'s answer: DESIGN 4c's keys, then `billingModel`, `message`, `value`, `until`."""
    return {
        "workspaceId": d.workspace_id,
        "feature": d.feature,
        "kind": d.kind,
        "allowed": d.allowed,
        "reason": d.reason,
        "limit": d.limit,
        "used": d.used,
        "remaining": d.remaining,
        "balance": d.balance,
        "periodStart": iso(d.period_start),
        "periodEnd": iso(d.period_end),
        "source": d.source,
        "billingModel": d.billing_model,
        "message": d.message,
        "value": d.value,
        "until": iso(d.until),
    }


def change_json(c: Change) -> dict[str, Any]:
    return {"scope": c.scope, "key": c.key, "action": c.action, "before": c.before, "after": c.after}


def _value(value: Any) -> str:
    from atlas_cli.domain.operator_catalog import shown

    return shown(value)


def _cell(value: Any) -> Any:
    """A CSV cell: a structured value (a max usage, a catalog entry) as compact JSON."""
    from json import dumps

    return dumps(value, sort_keys=True) if isinstance(value, dict | list) else value


def _amount(value: Any) -> str:
    return "-" if value is None else f"{value:,}"


class EntitlementViews(Output):
    """Entitlement decisions, the features of a workspace, overrides, and catalog versions."""

    def entitlement_decision(self, d: Decision, fmt: str) -> None:
        data = decision_json(d)
        header = [k for k in data if k != "value"]

        def table() -> None:
            self.out.print(("Allowed" if d.allowed else "Refused") + f" ({d.reason}): {d.message}")

        self._emit(fmt, data, header, [[data[k] for k in header]], table)

    def entitlement_list(self, r: EntitlementList, fmt: str) -> None:
        rows = [
            {
                "feature": d.feature,
                "kind": d.kind,
                "value": d.value,
                "source": d.source,
                "used": d.used,
                "limit": d.limit,
                "remaining": d.remaining,
                "balance": d.balance,
                "allowed": d.allowed,
                "reason": d.reason,
                "until": iso(d.until),
            }
            for d in r.rows
        ]
        data = {
            "workspaceId": r.workspace.id,
            "tier": r.workspace.tier_value,
            "billingModel": r.billing_model,
            "catalogVersion": r.catalog_version,
            "workspaceBlock": r.block,
            "features": rows,
        }

        def table() -> None:
            title = f"Entitlements of {r.workspace.id} ({r.workspace.tier_value}, {r.billing_model} billing)"
            cells = [
                [row["feature"], row["kind"], _value(row["value"]), row["source"],
                 _amount(row["balance"] if row["kind"] == "credit" else row["used"]),
                 row["reason"], row["until"] or ""]
                for row in rows
            ]  # fmt: skip
            columns = ["Feature", "Kind", "Value~", "Source", "Used / balance#", "Check", "Until"]
            self._print_table(title, columns, cells)
            if r.block:
                self.out.print(f"The workspace itself is blocked ({r.block}): every check answers {r.block}.")

        self._emit(fmt, data, list(LIST_COLUMNS), [[_cell(row[k]) for k in LIST_COLUMNS] for row in rows], table)

    def override_result(self, r: OverrideResult, fmt: str) -> None:
        data = {
            "workspaceId": r.workspace_id,
            "feature": r.feature,
            "action": r.action,
            "actor": r.actor,
            "changed": r.changed,
            "before": r.before,
            "after": r.after,
            "auditId": r.audit_id,
            "billingModel": r.billing_model,
        }

        def table() -> None:
            if not r.changed:
                self.out.print(f"{r.feature}: no override in force for {r.workspace_id}; nothing changed.")
                return
            before, after = r.before, r.after
            until = f" until {after['until']}" if after.get("until") else ""
            self.out.print(
                f"{r.feature} for {r.workspace_id}: {_value(before['value'])} ({before['source']}) -> "
                f"{_value(after['value'])} ({after['source']}){until}"
            )

        header = ["workspaceId", "feature", "action", "actor", "changed", "auditId"]
        self._emit(fmt, data, header, [[data[k] for k in header]], table)

    def catalog_file(self, r: PullResult) -> None:
        if r.file is None:
            sys.stdout.write(r.text)
            return
        version = f"version {r.version}" if r.version is not None else "no operator catalog pushed yet"
        self.note(f"Wrote the {r.billing_model} catalog ({version}) to {r.file}.")

    def push_result(self, r: PushResult, fmt: str) -> None:
        changes = [change_json(c) for c in r.changes]
        data = {
            "billingModel": r.billing_model,
            "dryRun": r.dry_run,
            "previousVersion": r.previous,
            "version": r.version,
            "changed": bool(r.changes),
            "actor": r.actor,
            "auditId": r.audit_id,
            "changes": changes,
        }

        def table() -> None:
            for c in r.changes:
                self.out.print(_change_line(c))
            if not r.changes:
                self.out.print(f"Identical to the catalog in force (version {r.previous or 'none'}); nothing stored.")
            elif r.dry_run:
                self.out.print(f"Dry run: {len(r.changes)} change(s); nothing stored.")
            else:
                self.out.print(f"Stored version {r.version} ({len(r.changes)} change(s)).")

        header = ["scope", "key", "action", "before", "after"]
        self._emit(fmt, data, header, [[_cell(c[k]) for k in header] for c in changes], table)

    def catalog_history(self, r: HistoryResult, fmt: str) -> None:
        rows: list[dict[str, Any]] = [
            {
                "version": v.version,
                "createdAt": iso(v.created_at),
                "actor": v.actor,
                "note": v.note,
                "features": list(v.features),
                "inForce": v.in_force,
            }
            for v in r.versions
        ]

        def table() -> None:
            cells = [
                [str(row["version"]), row["createdAt"], row["actor"], ", ".join(row["features"]), row["note"] or "",
                 "yes" if row["inForce"] else ""]
                for row in rows
            ]  # fmt: skip
            title = f"Catalog versions ({r.billing_model} billing)"
            self._print_table(title, ["Version#", "Created", "Actor", "Features~", "Note~", "In force"], cells)
            if not rows:
                self.out.print("No operator catalog pushed yet: the built-in catalog alone applies.")

        header = ["version", "createdAt", "actor", "note", "inForce"]
        self._emit(fmt, rows, header, [[row[k] for k in header] for row in rows], table)


def _change_line(c: Change) -> str:
    from json import dumps

    what = "feature" if c.scope == "feature" else "plans"
    if c.action == "added":
        return f"+ {what} {c.key}: {dumps(c.after, sort_keys=True)}"
    if c.action == "removed":
        return f"- {what} {c.key}: {dumps(c.before, sort_keys=True)}"
    return f"~ {what} {c.key}: {dumps(c.before, sort_keys=True)} -> {dumps(c.after, sort_keys=True)}"
