"""The operator catalog file: parsing and its errors, values, the diff, and the TOML round trip."""

import tomllib

import pytest

from atlas_cli.catalogs import builtin
from atlas_cli.domain import operator_catalog as oc
from atlas_cli.domain.catalog import CatalogError

CLASSIC = builtin("classic")
PER_SEAT = builtin("per-seat")

FILE = """
[features.data-explorer]
kind = "boolean"
description = "The data explorer"

[features.projects]
kind = "limit"
counter = { table = "projects", workspace_column = "org_id", where = { archived = false, kind = "app" } }

[features.seats-extra]
kind = "limit"
allow_without_count = true

[features.reports]
kind = "metered"
event_types = ["report", "report"]
stripe_meter = "atlas_reports"

[plans.team]
data-explorer = true
projects = 5
seats-extra = "unlimited"
reports = { max_usage = 100 }

[plans.trial]
data-explorer = false
reports = "unlimited"
"""


def parsed(text: str = FILE, catalog=CLASSIC) -> oc.OperatorCatalog:
    return oc.parse(tomllib.loads(text), catalog)


def test_a_full_file_parses_into_features_and_plan_values():
    cat = parsed()
    assert cat.features["projects"].counter == oc.Counter("projects", "org_id", (("archived", False), ("kind", "app")))
    assert cat.features["reports"].event_types == ("report",)  # duplicates dropped
    assert cat.features["seats-extra"].allow_without_count
    assert cat.value("team", "projects") == 5
    assert cat.value("team", "reports") == {"max_usage": 100}
    assert cat.value("trial", "data-explorer") is None  # false: not entitled
    assert cat.value("trial", "reports") == "unlimited"
    assert cat.value("enterprise", "projects") is None  # absent: not entitled


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[features.x]\nkind = "meter"', "features.x.kind: 'meter' is not one of boolean, limit, metered, credit"),
        ('[features.x]\nkind = "credit"', "features.x.costs: must be a table of event type = cost"),
        ('[features.x]\nkind = "credit"\ncosts = { query = -1 }', "features.x.costs.query: a cost is a whole number"),
        ('[features.x]\nkind = "credit"\ncosts = { query = 1 }\nblock_overage = 1', "block_overage: must be true"),
        (
            '[features.x]\nkind = "credit"\ncosts = { query = 1 }\n[plans.team]\nx = 5',
            "plans.team.x: a credit feature takes { allocation = N",
        ),
        ('[features.members]\nkind = "limit"', "features.members: 'members' is a built-in feature"),
        ('[features.x]\nkind = "boolean"\n[plans.pro]\nx = true', "plans.pro: the classic billing model has no tier"),
        ("[plans.team]\nmembers = 50", "plans.team.members: 'members' is a built-in feature"),
        ("[plans.team]\nghost = 1", "plans.team.ghost: no feature 'ghost'"),
        ('[features.x]\nkind = "limit"\n[plans.team]\nx = -1', "plans.team.x: must be a whole number, zero or more"),
        ('[features.x]\nkind = "limit"\n[plans.team]\nx = 2.5', "plans.team.x: must be a whole number"),
        ('[features.x]\nkind = "boolean"\n[plans.team]\nx = 1', "plans.team.x: a boolean feature takes true or false"),
        ('[features.x]\nkind = "metered"\nevent_types = ["q"]\n[plans.team]\nx = 5', "a metered feature takes"),
        ('[features.x]\nkind = "metered"', "features.x.event_types: must be a non-empty list"),
        ('[features.x]\nkind = "limit"\ncounter = { table = "a; drop", workspace_column = "w" }', "counter.table"),
        ('[features.x]\nkind = "limit"\ncounter = { table = "t", workspace_column = "w", sql = "1" }', "counter.sql"),
        ('[features.x]\nkind = "limit"\ncounter = { table = "t", workspace_column = "w", where = { "a b" = 1 } }',
         "counter.where.a b"),
        ('[features.x]\nkind = "limit"\ncounter = { table = "t", workspace_column = "w", where = { a = 1.5 } }',
         "counter.where.a: must be a string"),
        ('[features.x]\nkind = "boolean"\nevent_types = ["q"]', "features.x.event_types: not a setting"),
        ('[features.X]\nkind = "boolean"', "features.X: a feature key is lowercase"),
        ('model = "per-seat"', "model: this catalog is for the 'per-seat' billing model"),
        ("[tiers]", "tiers: unknown top-level entry"),
    ],
)  # fmt: skip
def test_each_mistake_is_named(text, message):
    with pytest.raises(CatalogError) as error:
        parsed(text)
    assert message in str(error.value)


def test_per_seat_tiers_and_builtin_features_are_its_own():
    text = '[features.x]\nkind = "boolean"\n[plans.pro]\nx = true'
    assert parsed(text, PER_SEAT).value("pro", "x") is True
    with pytest.raises(CatalogError, match="'sso' is a built-in feature of the per-seat"):
        parsed('[features.sso]\nkind = "boolean"', PER_SEAT)


@pytest.mark.parametrize(
    ("kind", "text", "value"),
    [("limit", "7", 7), ("limit", "unlimited", "unlimited"), ("limit", "false", False), ("boolean", "true", True),
     ("boolean", "FALSE", False), ("metered", "250", {"max_usage": 250}), ("metered", "unlimited", "unlimited")],
)  # fmt: skip
def test_values_typed_on_the_command_line(kind, text, value):
    feature = oc.OperatorFeature("x", kind, event_types=("q",) if kind == "metered" else ())
    assert oc.parse_value_text(text, feature) == value


@pytest.mark.parametrize(("kind", "text"), [("limit", "-1"), ("limit", "true"), ("boolean", "3"), ("limit", "lots")])
def test_bad_values_typed_on_the_command_line(kind, text):
    with pytest.raises(CatalogError, match="--value"):
        oc.parse_value_text(text, oc.OperatorFeature("x", kind))


def test_the_diff_goes_feature_by_feature_then_plan_by_plan():
    before = parsed()
    after = parsed(FILE.replace("projects = 5", "projects = 10").replace("stripe_meter", "description"))
    changes = oc.diff(before, after)
    assert [(c.scope, c.key, c.action) for c in changes] == [
        ("feature", "reports", "changed"),
        ("plan", "team.projects", "changed"),
    ]
    assert changes[1].before == 5 and changes[1].after == 10
    added = oc.diff(oc.empty("classic"), before)
    assert {c.action for c in added} == {"added"} and len(added) == 4 + 5
    assert {c.action for c in oc.diff(before, oc.empty("classic"))} == {"removed"}
    assert oc.diff(before, parsed()) == ()


@pytest.mark.parametrize("catalog", [CLASSIC, PER_SEAT], ids=["classic", "per-seat"])
def test_the_toml_written_reads_back_to_the_same_catalog(catalog):
    text = FILE.replace("[plans.team]", "[plans.trial2]").replace("[plans.trial]", "[plans.free]")
    text = text.replace("[plans.trial2]", "[plans.trial]")
    cat = parsed(text, catalog)
    written = oc.to_toml(cat, catalog)
    assert oc.parse(tomllib.loads(written), catalog).same_as(cat)
    for feature in catalog.features:  # every built-in feature is shown, commented
        assert f"# [features.{feature}]" in written
    assert 'model = "' + catalog.model + '"' in written


def test_strings_with_quotes_and_controls_survive_the_round_trip():
    cat = oc.OperatorCatalog(
        "classic",
        {
            "x": oc.OperatorFeature(
                "x", "limit", 'say "hi"\n\t\x7f\x9b\u202e\\ é', oc.Counter("t", "w", (("s", 'a"b'),))
            )
        },
        {"team": {"x": 3}},
    )
    written = oc.to_toml(cat, CLASSIC)
    assert oc.parse(tomllib.loads(written), CLASSIC).same_as(cat)
    assert not any(c in written for c in "\x7f\x9b\u202e")  # escaped, never raw on a terminal


def test_an_empty_catalog_writes_only_comments_and_tables():
    written = oc.to_toml(oc.empty("classic"), CLASSIC)
    assert oc.parse(tomllib.loads(written), CLASSIC).same_as(oc.empty("classic"))


def test_a_credit_feature_parses_costs_block_overage_and_allocations() -> None:

    from atlas_cli.domain.credits import Allocation, Cost

    text = """
[features.ai-credits]
kind = "credit"
costs = { query = 1, token = { credits = 1, per = 1000 } }
block_overage = true

[plans.team]
ai-credits = { allocation = 1000, period = "month" }

[plans.trial]
ai-credits = { allocation = 50 }

[plans.enterprise]
ai-credits = true
"""
    cat = oc.parse(tomllib.loads(text), CLASSIC)
    feature = cat.features["ai-credits"]
    assert feature.kind == "credit" and feature.block_overage
    assert feature.cost_of("token") == Cost(1, 1000) and feature.cost_of("query") == Cost(1)
    assert feature.cost_of("login") is None
    assert oc.allocation_of(cat.value("team", "ai-credits")) == Allocation(1000, "month")
    assert oc.allocation_of(cat.value("trial", "ai-credits")) == Allocation(50, "month")
    assert cat.value("enterprise", "ai-credits") is True and oc.allocation_of(True) is None
    again = oc.parse(tomllib.loads(oc.to_toml(cat, CLASSIC)), CLASSIC)
    assert again.same_as(cat)
    assert oc.parse_value_text("250", feature) == {"allocation": 250, "period": "month"}
