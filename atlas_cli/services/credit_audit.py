"""`credits verify`: the ledger is the truth; accounts and grants must agree with its sums."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy.engine import Connection

from atlas_cli.db import credits as q

if TYPE_CHECKING:
    from atlas_cli.services.credits import Mismatch


def mismatches(conn: Connection, workspace_ids: Sequence[str] | None) -> tuple[list[Mismatch], int]:
    """Every disagreement, and the number of accounts checked: an account's balance against the
    sum of its entries and its last entry's balance after, its overage against the entries naming
    no grant, and each grant's remaining against the entries naming it."""
    from atlas_cli.services.credits import Mismatch

    sums = q.ledger_sums(conn, workspace_ids)
    last = q.last_entries(conn, workspace_ids)
    found: list[Mismatch] = []
    wanted: list[str | None] = list(workspace_ids) if workspace_ids is not None else [None]
    accounts = [r for w in wanted for r in q.read_accounts(conn, w)]
    for account in accounts:
        pair = (account["workspace_id"], account["unit"])
        total = sum(v for (w, u, _g), v in sums.items() if (w, u) == pair)
        overage = -sums.get((*pair, None), 0)
        last_id, last_balance = last.get(pair, (0, 0))
        checks = [
            ("balance = sum of the ledger", total, int(account["balance"])),
            ("overage = minus the entries of no grant", overage, int(account["overage"])),
            ("balance = the last entry's balance after", last_balance, int(account["balance"])),
            ("the last entry is the account's last", last_id, int(account["last_entry"])),
        ]
        found += [Mismatch(pair[0], pair[1], what, want, got) for what, want, got in checks if want != got]
    grants = q.grants(conn, [], open_only=False) if workspace_ids is None else [
        g for w in workspace_ids for g in q.grants(conn, [], open_only=False, workspace_id=w)
    ]  # fmt: skip
    for grant in grants:
        want = sums.get((grant["workspace_id"], grant["unit"], grant["id"]), 0)
        if want != int(grant["remaining"]):
            what = f"grant {grant['id']} remaining = sum of its entries"
            found.append(Mismatch(grant["workspace_id"], grant["unit"], what, want, int(grant["remaining"])))
    return found, len(accounts)
