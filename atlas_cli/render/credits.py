"""Output of credits: balances with their grants, the ledger, changes, allocation, verification."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from atlas_cli.render.base import Output, iso

if TYPE_CHECKING:
    from atlas_cli.services.credits import (
        AllocateReport,
        BalanceReport,
        CreditChange,
        GrantView,
        LedgerReport,
        VerifyReport,
    )

LEDGER_COLUMNS = (
    "createdAt", "unit", "id", "kind", "amount", "balanceAfter", "grantId", "eventId", "key", "actor", "reason",
)  # fmt: skip
GRANT_COLUMNS = ("id", "unit", "amount", "remaining", "priority", "effectiveAt", "expiresAt", "source", "usable")


def grant_json(g: GrantView) -> dict[str, Any]:
    return {
        "id": g.id,
        "unit": g.unit,
        "amount": g.amount,
        "remaining": g.remaining,
        "priority": g.priority,
        "effectiveAt": iso(g.effective_at),
        "expiresAt": iso(g.expires_at),
        "source": g.source,
        "usable": g.usable,
        "createdAt": iso(g.created_at),
    }


class CreditViews(Output):
    def credit_balance(self, r: BalanceReport, fmt: str) -> None:
        accounts: list[dict[str, Any]] = [
            {"unit": a.unit, "balance": a.balance, "overage": a.overage, "available": a.available,
             "blockOverage": a.block_overage, "grants": [grant_json(g) for g in a.grants]}
            for a in r.accounts
        ]  # fmt: skip
        data = {"workspaceId": r.workspace_id, "billingModel": r.billing_model, "at": iso(r.at), "accounts": accounts}
        rows = [[a["unit"], a["balance"], a["overage"], a["available"], a["blockOverage"]] for a in accounts]

        def table() -> None:
            if not accounts:
                self.out.print(f"No credit feature in the operator catalog; {r.workspace_id} has no credits.")
                return
            cells = [[str(u), f"{b:,}", f"{o:,}", f"{v:,}", "yes" if blk else "no"] for u, b, o, v, blk in rows]
            title = f"Credits of {r.workspace_id} ({r.billing_model} billing)"
            self._print_table(title, ["Unit", "Balance#", "Overage#", "Available#", "Block overage"], cells)
            grants = [g for a in accounts for g in a["grants"] if g["remaining"] or g["usable"]]
            if grants:
                gcells = [[g["id"], g["unit"], f"{g['amount']:,}", f"{g['remaining']:,}", str(g["priority"]),
                           g["effectiveAt"], g["expiresAt"] or "never", g["source"]] for g in grants]  # fmt: skip
                columns = ["Grant", "Unit", "Amount#", "Remaining#", "Priority#", "Effective", "Expires", "Source"]
                self._print_table("Grants", columns, gcells)

        self._emit(fmt, data, ["unit", "balance", "overage", "available", "blockOverage"], rows, table)

    def credit_ledger(self, r: LedgerReport, fmt: str) -> None:
        entries = [
            {"createdAt": iso(e.created_at), "unit": e.unit, "id": e.id, "kind": e.kind, "amount": e.amount,
             "balanceAfter": e.balance_after, "grantId": e.grant_id, "eventId": e.event_id, "key": e.key,
             "actor": e.actor, "reason": e.reason}
            for e in r.entries
        ]  # fmt: skip
        data = {"workspaceId": r.workspace_id, "billingModel": r.billing_model, "entries": entries}

        def table() -> None:
            cells = [[e["createdAt"], e["unit"], str(e["id"]), e["kind"], f"{e['amount']:+,}", f"{e['balanceAfter']:,}",
                      e["grantId"] or e["eventId"] or "", e["reason"] or ""] for e in entries]  # fmt: skip
            columns = ["When", "Unit", "Entry#", "Kind", "Amount#", "Balance after#", "Grant / event", "Reason~"]
            self._print_table(f"Credit ledger of {r.workspace_id}", columns, cells)
            if not entries:
                self.out.print("No entries.")

        self._emit(fmt, data, list(LEDGER_COLUMNS), [[e[k] for k in LEDGER_COLUMNS] for e in entries], table)

    def credit_change(self, r: CreditChange, fmt: str) -> None:
        data = {"workspaceId": r.workspace_id, "unit": r.unit, "action": r.action, "key": r.key,
                "changed": r.changed, "balance": r.balance, "grantId": r.grant_id, "actor": r.actor,
                "billingModel": r.billing_model, "note": r.note}  # fmt: skip
        if r.note:
            self.note(r.note)

        def table() -> None:
            if not r.changed:
                return
            grant = f" (grant {r.grant_id})" if r.grant_id else ""
            self.out.print(f"credits {r.action} for {r.workspace_id}{grant}: {r.unit} balance is now {r.balance:,}.")

        header = ["workspaceId", "unit", "action", "key", "changed", "balance", "grantId"]
        self._emit(fmt, data, header, [[data[k] for k in header]], table)

    def credit_allocation(self, r: AllocateReport, fmt: str) -> None:
        rows: list[dict[str, Any]] = [
            {"workspaceId": x.workspace_id, "unit": x.unit, "periodStart": iso(x.period_start),
             "periodEnd": iso(x.period_end), "allocation": x.allocation, "outcome": x.outcome,
             "paidOverage": x.paid_overage, "expired": x.expired, "balance": x.balance}
            for x in r.rows
        ]  # fmt: skip
        data = {"billingModel": r.billing_model, "at": iso(r.at), "allocations": rows}
        header = list(rows[0]) if rows else ["workspaceId", "unit", "outcome"]

        def table() -> None:
            cells = [[x["workspaceId"], x["unit"], (x["periodStart"] or "")[:10], f"{x['allocation']:,}", x["outcome"],
                      f"{x['paidOverage']:,}", f"{x['expired']:,}", f"{x['balance']:,}"] for x in rows]  # fmt: skip
            columns = ["Workspace", "Unit", "Period", "Allocation#", "Outcome", "Paid overage#", "Expired#", "Balance#"]
            self._print_table(f"Credit allocation at {self.when(r.at)}", columns, cells)
            if not rows:
                self.out.print("Nothing to allocate: no credit feature in the operator catalog.")

        self._emit(fmt, data, header, [[x[k] for k in header] for x in rows], table)

    def credit_verify(self, r: VerifyReport, fmt: str) -> None:
        rows = [{"workspaceId": m.workspace_id, "unit": m.unit, "check": m.what, "expected": m.expected,
                 "found": m.found} for m in r.mismatches]  # fmt: skip
        data = {"billingModel": r.billing_model, "accounts": r.accounts, "ok": not rows, "mismatches": rows}
        header = ["workspaceId", "unit", "check", "expected", "found"]

        def table() -> None:
            if not rows:
                self.out.print(
                    f"{r.accounts} credit account(s): every balance, overage and grant agrees with the ledger."
                )
                return
            cells = [[x["workspaceId"], x["unit"], x["check"], f"{x['expected']:,}", f"{x['found']:,}"] for x in rows]
            self._print_table("Credit mismatches", ["Workspace", "Unit", "Check~", "Ledger says#", "Found#"], cells)

        self._emit(fmt, data, header, [[x[k] for k in header] for x in rows], table)
