"""`atlas context`: the contexts, their database URLs always masked; `atlas completion install`."""

from __future__ import annotations

from typing import Any

from atlas_cli.render.base import Output

COLUMNS = ("name", "current", "databaseUrl", "workspace", "actor", "billingModel")


class ContextViews(Output):
    @staticmethod
    def context_json(c: Any) -> dict[str, Any]:
        data = {
            "name": c.name,
            "current": c.current,
            "databaseUrl": c.database_url,
            "workspace": c.workspace,
            "actor": c.actor,
            "billingModel": c.billing_model,
        }
        if c.chosen_by is not None:
            data["chosenBy"] = c.chosen_by
        return data

    def context_list(self, contexts: list[Any], fmt: str) -> None:
        data = [self.context_json(c) for c in contexts]
        rows = [[d[k] for k in COLUMNS] for d in data]

        def table() -> None:
            if not rows:
                self.note("No contexts yet: atlas context add NAME --database-url URL")
                return
            shown = [["*" if c else "", n, u or "", w or "", a or "", m or ""] for n, c, u, w, a, m in rows]
            headers = ["Current", "Name", "Database~", "Workspace", "Actor", "Billing model"]
            self._print_table(None, headers, shown)

        self._emit(fmt, data, list(COLUMNS), rows, table)

    def context_show(self, c: Any, fmt: str) -> None:
        data = {} if c is None else self.context_json(c)
        header = [*COLUMNS, "chosenBy"]
        rows = [] if c is None else [[data.get(k) for k in header]]

        def text() -> None:
            if c is None:
                self.note("No context applies: atlas context use NAME, --context NAME or ATLAS_CONTEXT choose one.")
                return
            chosen = {"flag": "--context", "env": "ATLAS_CONTEXT", "current": "atlas context use"}
            for label, key in (("Name", "name"), ("Database", "databaseUrl"), ("Workspace", "workspace")):
                self.out.print(f"{label}: {data[key] or '-'}")
            for label, key in (("Actor", "actor"), ("Billing model", "billingModel")):
                self.out.print(f"{label}: {data[key] or '-'}")
            if c.chosen_by is not None:
                self.out.print(f"Chosen by: {chosen[c.chosen_by]}")

        self._emit(fmt, data, header, rows, text)

    def context_change(self, r: Any, fmt: str) -> None:
        data = {"action": r.action, "file": str(r.file), "context": self.context_json(r.context)}

        def text() -> None:
            self.out.print(f"Context {r.context.name} {r.action} ({r.context.database_url}) in {r.file}.")
            if r.action in ("added", "replaced") and not r.context.current:
                self.note(f"Use it with: atlas context use {r.context.name} (or --context {r.context.name})")

        self._emit(fmt, data, ["action", "file", *COLUMNS], [[r.action, str(r.file), *data["context"].values()]], text)

    def completion_installed(self, r: Any, fmt: str) -> None:
        data = {
            "shell": r.shell,
            "script": str(r.script),
            "scriptChanged": r.script_changed,
            "startupFile": None if r.startup_file is None else str(r.startup_file),
            "startupFileChanged": r.startup_changed,
        }

        def text() -> None:
            self.out.print(f"{'Wrote' if r.script_changed else 'Up to date:'} {r.script}")
            if r.startup_file is not None:
                did = "Added a line that loads it to" if r.startup_changed else "Already loaded by"
                self.out.print(f"{did} {r.startup_file}")
            else:
                self.out.print(f"{r.shell} loads it from that directory by itself.")
            if r.changed:
                self.note(f"Open a new {r.shell} to use it.")

        self._emit(fmt, data, list(data), [list(data.values())], text)
