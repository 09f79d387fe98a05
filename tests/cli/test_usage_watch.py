"""`usage watch`: one snapshot when stdout is not a terminal; in a terminal, frames redrawn in
place between injected sleeps until Ctrl-C, which exits 0."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from atlas_cli.cli.main import app
from atlas_cli.cli.runtime import Runtime
from tests import factories
from tests.factories import NOW


@pytest.fixture
def fleet(atlas, atlas_db):
    with atlas_db.begin() as conn:
        factories.workspace(conn, "acme")
        factories.workspace(conn, "globex")
        factories.workspace(conn, "gone", workspace_status="deleted", deleted_at=NOW)
        factories.events(conn, "acme", [("query", 1_000, NOW, "u_a")])
        factories.events(conn, "globex", [("query", 8_000, NOW, None)])
    return atlas


def test_not_a_terminal_prints_one_snapshot(fleet):
    result = fleet("usage", "watch", "--all")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Usage against limits at 2026-11-22T15:30:00.000Z"
    assert [line.split()[1] for line in lines if "Queries" in line] == ["acme", "globex"]  # not the deleted one
    assert "80%" in result.stdout and "warning" in result.stdout


def test_json_snapshot_is_what_usage_show_says(fleet):
    one = fleet.json("usage", "watch", "-w", "acme")
    assert one == fleet.json("usage", "show", "-w", "acme")
    every = fleet.json("usage", "watch", "--all")
    assert [w["workspaceId"] for w in every] == ["acme", "globex"]
    assert [w["queryCount"] for w in every] == [1_000, 8_000]
    # measured set-based, yet each object is what the single `usage show` says
    assert every == [fleet.json("usage", "show", "-w", ws) for ws in ("acme", "globex")]
    csv = fleet("usage", "watch", "--all", "--format", "csv")
    assert csv.stdout.splitlines()[0].startswith("workspaceId,billingModel,queryCount")
    assert len(csv.stdout.splitlines()) == 3


@pytest.mark.parametrize("term", ["xterm-256color", "dumb"])
def test_a_terminal_redraws_after_each_sleep_until_ctrl_c(fleet, atlas_db, monkeypatch, term):
    monkeypatch.setenv("TERM", term)
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        if len(slept) == 1:  # between the first and the second frame, usage grows past the limit
            with atlas_db.begin() as conn:
                factories.events(conn, "acme", [("query", 9_500, NOW, "u_a")])
            return
        raise KeyboardInterrupt

    runtime = Runtime(clock=factories.clock, sleep=sleep, terminal=True)
    result = CliRunner().invoke(
        app, ["--database-url", fleet.url, "usage", "watch", "-w", "acme", "--interval", "2s"], obj=runtime
    )
    assert result.exit_code == 0, result.output
    assert slept == [2.0, 2.0]  # two frames drawn, Ctrl-C in the second wait
    out = result.stdout
    assert "every 2s · Ctrl-C quits" in out
    first, second = out.index("1,000"), out.index("10,500")
    assert first < second and "105%" in out[second:] and "soft_limit" in out[second:]
    if term == "dumb":  # no cursor controls: the frames one below the other
        assert "\x1b[" not in out and out.count("Usage against limits") == 2
    else:  # drawn in place: the cursor goes back up over the previous frame
        assert "\x1b[1A" in out
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("usage", "watch", "-w", "acme", "--all"), 2, "Error: give either --workspace/-w or --all, not both"),
        (("usage", "watch", "-w", "nope"), 3, "Error: "),
        (("usage", "watch", "-w", "acme", "--interval", "soon"), 2, "Error: --interval: 'soon' is not a duration"),
        (("usage", "watch", "-w", "acme", "--interval", "100ms"), 2, "Error: --interval: '100ms' is out of range"),
    ],
)
def test_bad_input(fleet, args, code, message):
    result = fleet(*args)
    assert result.exit_code == code, result.output
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1 and result.stdout == ""


def test_the_all_snapshot_of_an_empty_database_is_an_empty_list(atlas):
    assert json.loads(atlas("usage", "watch", "--all", "--json").stdout) == []


def test_per_seat_all_snapshot_is_each_usage_show(db_url):
    from tests import per_seat_factories as ps
    from tests.cli.conftest import Atlas

    db = ps.database(db_url)
    try:
        with db.begin() as conn:
            ps.workspace(conn, "acme", seats=2)
            ps.workspace(conn, "initech", tier="starter")
            factories.events(conn, "acme", [("token", 40_000, NOW, "acme_u0"), ("query", 3, NOW, "acme_u1")])
        atlas = Atlas(db.url)
        every = atlas.json("usage", "watch", "--all")
        assert [w["workspaceId"] for w in every] == ["acme", "initech"]
        assert every == [atlas.json("usage", "show", "-w", ws) for ws in ("acme", "initech")]
        assert every[0]["billingModel"] == "per-seat"
    finally:
        db.dispose()
