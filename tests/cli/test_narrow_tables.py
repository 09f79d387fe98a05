"""Tables on narrow terminals and in pipes: an id, a slug, a number or a date is never cut.

Every table command runs at 80 and 60 columns on the demo data plus a workspace with a long
slug; each value the JSON of the same command holds must appear whole in the table.
"""

import pytest

from atlas_cli.db.database import Database
from tests import factories
from tests.cli.conftest import Atlas
from tests.factories import NOW

LONG_SLUG = "pied-piper-middle-out-compression-platform"
LONG_ID = "ws_pied_piper_middle_out_compression_platform"


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('narrow') / 'demo.db'}"
    atlas = Atlas(url)
    assert atlas("demo").exit_code == 0
    db = Database(url)
    with db.begin() as conn:
        factories.workspace(conn, LONG_ID, slug=LONG_SLUG, name="Pied Piper Middle-Out Compression Platform")
        factories.events(conn, LONG_ID, [("token", 4_999_999, NOW, None), ("query", 12_345, NOW, None)])
    db.dispose()
    changed = atlas("billing", "byot", "--enable", "-w", "acme", "--as", "admin@atlas.test")
    assert changed.exit_code == 0, changed.output
    return url


def n(value):
    return "Unlimited" if value is None else f"{value:,}"


def workspace_list(j):
    return [v for w in j for v in (w["id"], w["slug"], w["tier"], (w["trialEndsAt"] or "")[:10]) if v]


def workspace_show(j):
    return [j["id"], j["slug"], j["createdAt"], j["stripeCustomerId"] or "none"]


def usage_show(j):
    limits = j["limits"]
    return [n(j["queryCount"]), n(j["tokenCount"]), n(limits["queriesPerMonth"]), n(limits["tokensPerMonth"])]


def history(j):
    day = 10 if j["period"] == "daily" else 7
    return [v for s in j["summaries"] for v in (s["period_start"][:day], n(s["query_count"]), n(s["token_count"]))]


def breakdown(j):
    return [v for u in j["users"] for v in (u["email"], n(u["query_count"]), n(u["token_count"]))]


def billing_status(j):
    u, limits = j["usage"], j["limits"]
    return [n(u["queryCount"]), n(u["tokenCount"]), n(limits["queriesPerMonth"]), n(limits["tokensPerMonth"])]


def billing_check(j):
    return [v for m in j["metrics"] for v in (n(m["currentUsage"]), n(m["limit"]))]


def trial_status(j):
    return [j["trialEndsAt"]]


def plans(j):
    rows = j if isinstance(j, list) else [j]
    keys = ("queriesPerMonth", "tokensPerMonth", "maxMembers", "maxConnections")
    return [v for p in rows for v in (p["tier"], *(n(p[k]) for k in keys))]


def audit(j):
    return [v for e in j for v in (e["createdAt"], e["workspaceId"], e["actor"], e["action"])]


COMMANDS = [
    (("workspace", "list"), workspace_list),
    (("workspace", "show", "pied-piper"), workspace_show),
    (("workspace", "show", LONG_SLUG), workspace_show),
    (("usage", "show", "-w", "stark"), usage_show),
    (("usage", "show", "-w", LONG_SLUG), usage_show),
    (("usage", "history", "-w", "acme", "--period", "daily", "--limit", "10"), history),
    (("usage", "history", "-w", "wayne", "--period", "monthly", "--limit", "3"), history),
    (("usage", "breakdown", "-w", "umbrella"), breakdown),
    (("billing", "status", "-w", "stark"), billing_status),
    (("billing", "status", "-w", LONG_SLUG), billing_status),
    (("billing", "check", "-w", "stark"), billing_check),
    (("trial", "status", "-w", "hooli"), trial_status),
    (("plans", "list"), plans),
    (("plans", "show", "team"), plans),
    (("audit", "list"), audit),
]


@pytest.mark.parametrize("columns", ["80", "60"])
@pytest.mark.parametrize(("args", "values"), COMMANDS, ids=[" ".join(c[0]) for c in COMMANDS])
def test_tables_never_cut_ids_slugs_numbers_or_dates(demo_url, monkeypatch, columns, args, values):
    atlas = Atlas(demo_url)
    expected = values(atlas.json(*args, code=13 if args[0] == "trial" and "hooli" not in args else 0))
    assert expected
    monkeypatch.setenv("COLUMNS", columns)
    result = atlas(*args)
    assert result.exit_code == 0, result.output
    missing = [v for v in expected if v not in result.stdout]
    assert not missing, result.stdout
    assert "…" not in result.stdout


def test_bars_and_charts_go_first_on_a_narrow_terminal(demo_url, monkeypatch):
    atlas = Atlas(demo_url)
    monkeypatch.setenv("COLUMNS", "80")
    wide = atlas("usage", "history", "-w", "acme", "--period", "daily", "--limit", "5").stdout
    assert "█" in wide and max(map(len, wide.splitlines())) <= 80
    monkeypatch.setenv("COLUMNS", "50")
    narrow = atlas("usage", "history", "-w", "acme", "--period", "daily", "--limit", "5").stdout
    assert "█" not in narrow and max(map(len, narrow.splitlines())) <= 50
    for columns, bar in (("80", True), ("60", False)):
        monkeypatch.setenv("COLUMNS", columns)
        show = atlas("usage", "show", "-w", "stark").stdout
        queries = next(line for line in show.splitlines() if "Queries" in line)
        assert ("━" in queries) is bar and max(map(len, show.splitlines())) <= int(columns)


def test_text_lines_are_never_broken(demo_url, monkeypatch):
    monkeypatch.setenv("COLUMNS", "40")
    result = Atlas(demo_url)("billing", "status", "-w", "stark")
    assert "Period 2026-11-01T00:00:00.000Z → 2026-12-01T00:00:00.000Z" in result.stdout


def test_small_days_still_show_in_the_chart(atlas, atlas_db):
    from datetime import timedelta

    with atlas_db.begin() as conn:
        factories.workspace(conn, "acme")
        day = NOW.replace(hour=1)
        factories.events(conn, "acme", [("query", 1_000, day, None), ("query", 10, day - timedelta(days=1), None)])
    result = atlas("usage", "history", "-w", "acme", "--period", "daily", "--limit", "2")
    rows = {line.split()[1]: line for line in result.stdout.splitlines() if "2026-11-2" in line}
    assert "████████████" in rows["2026-11-22"] and "▏" in rows["2026-11-21"]
