"""`usage watch`: usage against limits, redrawn in place (Rich Live) until Ctrl-C."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from atlas_cli.render.standing import StandingViews, _metered, usage_json

if TYPE_CHECKING:
    from atlas_cli.services.standing import WatchSnapshot

WATCH_COLUMNS = ["Workspace", "Metric~", "Used#", "Limit#", "", "%#", "Status"]


class WatchViews(StandingViews):
    def watch_frame(self, snap: WatchSnapshot, interval: float | None = None, width: int | None = None) -> Any:
        """One frame: a title line, then each workspace's metered dimensions against their limits."""
        from rich.console import Group
        from rich.text import Text

        from atlas_cli.render.console import fitted

        rows = []
        for s in snap.standings:
            for feature, used, metric in _metered(s):
                rows.append([s.workspace.slug or s.workspace.id, *self._metered_row(s, feature, used, metric)])
        every = f" · every {interval:g}s · Ctrl-C quits" if interval is not None else ""
        title = Text(f"Usage against limits at {self.when(snap.at)}{every}", style="bold")
        if not rows:
            return Group(title, Text("No workspace to watch.", style="dim"))
        table, _need = fitted(WATCH_COLUMNS, rows, width or self.out.width)
        return Group(title, table)

    def watch_snapshot(self, snap: WatchSnapshot, fmt: str, *, single: bool) -> None:
        """One snapshot, for a pipe, a file or a script: `usage show`'s JSON object (a list of them
        for --all), CSV rows, or the frame printed once."""
        data = [usage_json(s) for s in snap.standings]
        header = list(dict.fromkeys(k for d in data for k, v in d.items() if not isinstance(v, dict)))
        rows = [[d.get(k) for k in header] for d in data]
        self._emit(
            fmt, data[0] if single and data else data, header, rows, lambda: self.out.print(self.watch_frame(snap))
        )

    def watch_live(
        self, snapshot: Callable[[], WatchSnapshot], *, interval: float, sleep: Callable[[float], None]
    ) -> None:
        """Redraws the frame in place every `interval` seconds until interrupted (KeyboardInterrupt
        propagates to the caller, which ends the command); on a dumb terminal, prints each frame."""
        from rich.live import Live

        from atlas_cli.render.console import SafeConsole

        # the caller decided stdout is a terminal: draw in place even where Rich would not guess it
        console = SafeConsole(
            force_terminal=True, no_color=self._no_color or None, markup=False, highlight=False, emoji=False
        )
        if console.is_dumb_terminal:  # no cursor movement (TERM=dumb): each frame below the last
            while True:
                console.print(self.watch_frame(snapshot(), interval, console.width))
                sleep(interval)
        with Live(console=console, auto_refresh=False, redirect_stdout=False, redirect_stderr=False) as live:
            while True:
                live.update(self.watch_frame(snapshot(), interval, console.width), refresh=True)
                sleep(interval)
