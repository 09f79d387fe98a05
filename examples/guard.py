"""Guard a function with atlas: run it only when the workspace's plan allows it, and record the
usage it makes. The database is DATABASE_URL, else the embedded one of `atlas demo`.

    python examples/guard.py acme      # the report runs; one query event is recorded
    python examples/guard.py hooli     # refused: its plan lacks the data explorer (exit 16)
    python examples/guard.py globex    # refused: its query budget is spent (exit 12)
"""

import sys

from atlas_cli import Atlas


def explore(workspace: str) -> str:
    return f"data explorer report for {workspace}"


def main(workspace: str) -> int:
    with Atlas() as atlas:  # closing flushes the events tracked
        for feature in ("data-explorer", "query-budget"):
            decision = atlas.check(workspace, feature)
            if not decision.allowed:
                print(f"refused ({decision.reason}): {decision.message}")
                return int(decision.exit_code)
        print(explore(workspace))
        atlas.track(workspace, "query", user_id="guard-example", metadata={"feature": "data-explorer"})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
