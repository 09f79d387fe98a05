"""Trial state."""

from __future__ import annotations

from typing import Any

from atlas_cli.db.database import Database
from atlas_cli.domain.trial import TrialState
from atlas_cli.services import Clock
from atlas_cli.services.models import TrialReport, Workspace
from atlas_cli.services.workspaces import resolve, trial_of


class TrialService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def status(self, workspace: str | None) -> TrialReport:
        """The effective trial end, days left, and whether it has expired.

        Raises:
            NotFound: unknown workspace.
        """
        with self._db.connect() as conn:
            ws = resolve(conn, workspace, self._db.billing(conn).layout)
        state = trial_of(ws, self._clock())
        if state is None:
            return TrialReport(ws, False, TrialState(ws.trial_ends_at, False, None))
        return TrialReport(ws, True, state)

    def list(self) -> list[TrialReport]:
        """Every workspace on a trial plan that is not deleted, the trial ending soonest first
        (ties by name, then id)."""
        from atlas_cli.db import workspace_sets
        from atlas_cli.domain.periods import utc

        now = self._clock()
        with self._db.connect() as conn:
            layout = self._db.billing(conn).layout
            rows = workspace_sets.live_workspaces(conn, layout.organization)
            targets = [Workspace.from_row(row, layout) for row in rows]
        reports = [TrialReport(ws, True, state) for ws in targets if (state := trial_of(ws, now)) is not None]

        def order(r: TrialReport) -> tuple[Any, ...]:
            end = r.state.ends_at
            return (end is None, utc(end) if end else None, r.workspace.name.casefold(), r.workspace.id)

        return sorted(reports, key=order)
