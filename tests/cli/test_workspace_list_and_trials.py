"""`workspace list` with the billing check's columns, its filters and sorts; `trial list`; and
`trial status` without a workspace."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from tests import factories
from tests import per_seat_factories as ps
from tests.cli.conftest import Atlas
from tests.factories import NOW


@pytest.fixture
def fleet(atlas, atlas_db):
    with atlas_db.begin() as conn:
        factories.workspace(conn, "ok_team")
        factories.workspace(conn, "warm", byot=True)
        factories.events(conn, "warm", [("query", 8_500, NOW, None)])
        factories.workspace(conn, "soft")
        factories.events(conn, "soft", [("token", 5_000_000, NOW, None)])
        factories.workspace(conn, "hot")
        factories.events(conn, "hot", [("query", 12_000, NOW, None)])
        factories.workspace(conn, "trial_soon", tier="trial", trial_ends_at=NOW + timedelta(days=2))
        factories.workspace(conn, "trial_later", tier="trial", trial_ends_at=NOW + timedelta(days=10))
        factories.workspace(conn, "trial_gone", tier="trial", trial_ends_at=NOW - timedelta(hours=3))
        factories.workspace(conn, "trial_default", tier="trial", createdAt=NOW - timedelta(days=13, hours=20))
        factories.workspace(conn, "big", tier="enterprise")
        factories.events(conn, "big", [("query", 99_999, NOW, None)])
        factories.workspace(conn, "locked", tier="locked")
        factories.workspace(conn, "deleted", tier="trial", workspace_status="deleted")
    return atlas


def ids(atlas, *args: str) -> list[str]:
    return [w["id"] for w in atlas.json("workspace", "list", *args)]


def test_every_workspace_with_its_check_status_worst_percent_and_trial(fleet):
    rows = {w["id"]: w for w in fleet.json("workspace", "list")}
    assert len(rows) == 11  # a deleted workspace is still listed
    assert {"id", "name", "slug", "tier", "status", "byot", "trialEndsAt", "billingModel"} <= set(rows["hot"])
    found = {k: (w["billingStatus"], w["worstUsagePercent"]) for k, w in rows.items()}
    assert found["ok_team"] == ("ok", 0)
    assert found["warm"] == ("warning", 85)  # BYOT: tokens unenforced, queries still are
    assert found["soft"] == ("soft_limit", 100)
    assert found["hot"] == ("hard_limit", 120)
    assert found["big"] == ("ok", None)  # unlimited: no percent
    assert found["locked"] == ("subscription_required", None)  # limits of 0: no percent
    assert found["trial_gone"][0] == "trial_expired"
    default = rows["trial_default"]
    assert default["trialEndsAt"] is None and default["effectiveTrialEndsAt"] == "2026-11-22T19:30:00.000Z"
    assert default["trialExpired"] is False
    assert rows["trial_gone"]["trialExpired"] is True and rows["ok_team"]["effectiveTrialEndsAt"] is None


def test_filters(fleet):
    assert ids(fleet, "--status", "warning", "--sort", "id") == [
        "deleted", "hot", "locked", "soft", "trial_gone", "warm"]  # fmt: skip
    assert ids(fleet, "--status", "soft", "--tier", "team", "--sort", "id") == ["hot", "soft"]
    assert ids(fleet, "--status", "trial_expired") == ["deleted", "trial_gone"]
    assert ids(fleet, "--byot") == ["warm"]
    assert "warm" not in ids(fleet, "--no-byot") and len(ids(fleet, "--no-byot")) == 10
    assert ids(fleet, "--tier", "trial", "--tier", "locked", "--sort", "id") == [
        "deleted", "locked", "trial_default", "trial_gone", "trial_later", "trial_soon"]  # fmt: skip
    assert ids(fleet, "--trial-ending", "3d", "--sort", "trial-end") == ["trial_default", "trial_soon"]
    assert ids(fleet, "--trial-ending", "4h") == ["trial_default"]
    assert ids(fleet, "--trial-ending", "2w", "--sort", "trial-end") == [
        "trial_default", "trial_soon", "trial_later"]  # fmt: skip


def test_sorts(fleet):
    assert ids(fleet, "--sort", "usage")[:3] == ["hot", "soft", "warm"]
    assert ids(fleet, "--sort", "usage")[-2:] == ["big", "locked"]  # no percent: last
    by_status = ids(fleet, "--sort", "status")
    assert by_status.index("soft") < by_status.index("warm") < by_status.index("ok_team")
    assert by_status.index("hot") < by_status.index("soft")
    by_end = ids(fleet, "--sort", "trial-end")
    assert by_end[:5] == ["deleted", "trial_gone", "trial_default", "trial_soon", "trial_later"]
    assert ids(fleet, "--sort", "name") == sorted(ids(fleet), key=str.casefold)


def test_table_and_csv(fleet):
    table = fleet("workspace", "list", "--status", "hard")
    assert table.exit_code == 0, table.output
    assert "hard_limit" in table.stdout and "120%" in table.stdout and "warm" not in table.stdout
    result = fleet("workspace", "list", "--format", "csv", "--sort", "id")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0])[:7] == ["id", "name", "slug", "tier", "status", "byot", "trialEndsAt"]
    assert next(r for r in rows if r["id"] == "hot")["worstUsagePercent"] == "120"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--trial-ending", "3x"), "Error: --trial-ending: '3x' is not a duration; use a number and h, d or w"),
        (("--status", "bad"), "Error: --status: 'bad' is not one of ok, warning"),
        (("--sort", "size"), "Error: --sort: 'size' is not one of name, id"),
        (("--tier", "starter"), "Error: --tier: 'starter' is not a tier of the classic billing model"),
    ],
)
def test_bad_filters_are_one_line_and_exit_2(fleet, args, message):
    result = fleet("workspace", "list", *args)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1


def test_trial_list_by_end_and_trial_status_without_a_workspace(fleet):
    listed = fleet.json("trial", "list")
    assert [t["workspaceId"] for t in listed] == ["trial_gone", "trial_default", "trial_soon", "trial_later"]
    assert listed[0]["expired"] is True and listed[2]["daysLeft"] == 2 and listed[1]["trialEndsAt"]
    assert fleet.json("trial", "status") == listed  # rather than failing on several workspaces
    single = fleet("trial", "status", "-w", "trial_gone")
    assert single.exit_code == 13
    table = fleet("trial", "list")
    assert table.exit_code == 0 and "trial_soon" in table.stdout and "expired" in table.stdout


def test_empty_database_lists_nothing(atlas):
    assert atlas.json("workspace", "list") == []
    assert atlas.json("trial", "list") == []
    assert "No workspace is on a trial." in atlas("trial", "list").stdout


def test_per_seat_workspaces(db_url):
    db = ps.database(db_url)
    try:
        with db.begin() as conn:
            ps.workspace(conn, "acme", tier="pro", seats=2)
            ps.cost(conn, "acme", "41")  # $41 of $40
            ps.workspace(conn, "tiny", tier="starter", seats=1)
            ps.cost(conn, "tiny", "17")
            ps.workspace(conn, "try", tier="trial", trial_ends_at=NOW + timedelta(hours=30))
        atlas = Atlas(db.url)
        rows = {w["id"]: w for w in atlas.json("workspace", "list", "--sort", "usage")}
        assert list(rows) == ["acme", "tiny", "try"]
        assert (rows["acme"]["billingStatus"], rows["acme"]["worstUsagePercent"]) == ("metered", 103)
        assert (rows["tiny"]["billingStatus"], rows["tiny"]["worstUsagePercent"]) == ("warning", 85)
        assert [w["id"] for w in atlas.json("workspace", "list", "--status", "soft")] == ["acme"]
        assert [w["id"] for w in atlas.json("workspace", "list", "--trial-ending", "2d")] == ["try"]
        assert [t["workspaceId"] for t in atlas.json("trial", "list")] == ["try"]
    finally:
        db.dispose()
