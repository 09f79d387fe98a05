"""`atlas plans pull/push/history/show` with an operator catalog, on both engines and both billing
models: validation (exit 2, nothing stored), the diff, versions, the audit row, the round trip."""

from __future__ import annotations

import tomllib

import pytest
import sqlalchemy as sa

from atlas_cli.db.schema import audit_log
from tests import entitlement_envs


def catalog(env, projects=5) -> str:
    return f"""
[features.data-explorer]
kind = "boolean"

[features.projects]
kind = "limit"
counter = {{ table = "projects", workspace_column = "org_id", where = {{ archived = false }} }}

[features.reports]
kind = "metered"
event_types = ["report"]
stripe_meter = "atlas_reports"

[plans.{env.paid}]
data-explorer = true
projects = {projects}
reports = {{ max_usage = 100 }}
"""


@pytest.fixture(params=["classic", "per-seat"])
def env(request, db_url, tmp_path):
    made = entitlement_envs.make(request.param, db_url, tmp_path)
    with made.db.begin() as conn:
        made.workspace(conn, "acme", made.paid, members=2)
    yield made
    made.db.dispose()


def versions(env) -> int:
    return env.count("atlas_catalog_versions")


def test_pull_shows_the_built_in_catalog_read_only(env):
    result = env.cli()("plans", "pull")
    assert result.exit_code == 0, result.stderr
    document = tomllib.loads(result.stdout)
    assert document == {"model": env.model, "plans": {tier: {} for tier in document["plans"]}}
    assert f"# {env.seats_feature} = 25  (built-in)" in result.stdout
    assert f"# [features.{env.seats_feature}]" in result.stdout


def test_push_stores_a_version_with_its_audit_row_and_pull_gives_it_back(env):
    dry = env.cli().json("plans", "push", str(env.catalog(catalog(env))), "--dry-run")
    assert dry["dryRun"] is True and dry["version"] is None and versions(env) == 0
    assert [(c["scope"], c["key"]) for c in dry["changes"]][:3] == [
        ("feature", "data-explorer"),
        ("feature", "projects"),
        ("feature", "reports"),
    ]
    assert ("plan", f"{env.paid}.projects", "added") in {(c["scope"], c["key"], c["action"]) for c in dry["changes"]}
    stored = env.push(catalog(env))
    assert (stored["version"], stored["previousVersion"], stored["actor"]) == (1, None, "root@atlas.test")
    with env.db.connect() as conn:
        audit = conn.execute(sa.select(audit_log)).mappings().one()
    assert (audit["workspace_id"], audit["action"]) == ("*", "plans.push")
    assert audit["before"]["version"] is None and audit["after"]["version"] == 1
    assert audit["after"]["catalog"]["plans"][env.paid]["projects"] == 5

    pulled = env.tmp / "pulled.toml"
    result = env.cli()("plans", "pull", str(pulled))
    assert result.exit_code == 0 and "version 1" in result.stderr and result.stdout == ""
    again = env.cli().json("plans", "push", str(pulled), "--as", "root")
    assert (again["changed"], again["version"], again["previousVersion"]) == (False, None, 1)
    assert versions(env) == 1
    said = env.cli()("plans", "push", str(pulled), "--as", "root")
    assert "nothing stored" in said.stdout

    changed = env.push(catalog(env, projects=9))
    assert changed["version"] == 2
    assert [(c["key"], c["before"], c["after"]) for c in changed["changes"]] == [(f"{env.paid}.projects", 5, 9)]
    history = env.cli().json("plans", "history")
    assert [(v["version"], v["inForce"]) for v in history] == [(2, True), (1, False)]
    assert history[0]["features"] == ["data-explorer", "projects", "reports"]


def test_show_puts_operator_features_beside_the_built_in_limits(env):
    env.push(catalog(env))
    shown = env.cli().json("plans", "show", env.paid)
    assert {f["feature"]: f["value"] for f in shown["operatorFeatures"]} == {
        "data-explorer": True,
        "projects": 5,
        "reports": {"max_usage": 100},
    }
    assert {f["value"] for f in env.cli().json("plans", "show", "free")["operatorFeatures"]} == {None}
    table = env.cli()("plans", "show", env.paid)
    assert table.exit_code == 0 and "Operator features" in table.stdout and "max usage 100" in table.stdout


BAD = [
    ("unknown kind", '[features.x]\nkind = "gauge"', "features.x.kind: 'gauge' is not one of"),
    ("credit without costs", '[features.x]\nkind = "credit"', "features.x.costs: must be a table"),
    ("unknown tier", '[features.x]\nkind = "boolean"\n[plans.gold]\nx = true', "has no tier 'gold'"),
    ("built-in feature", "[features.{seats}]\nkind = \"boolean\"", "is a built-in feature"),
    ("built-in value", "[plans.{paid}]\n{seats} = 100", "is a built-in feature"),
    ("missing table", '[features.x]\nkind = "limit"\ncounter = {{ table = "nope", workspace_column = "org_id" }}',
     "features.x.counter: table 'nope' does not exist"),
    ("missing column", '[features.x]\nkind = "limit"\ncounter = {{ table = "projects", workspace_column = "ws" }}',
     "table 'projects' has no column 'ws'"),
    ("missing filter column",
     '[features.x]\nkind = "limit"\ncounter = {{ table = "projects", workspace_column = "org_id", '
     'where = {{ "gone" = 1 }} }}', "has no column 'gone'"),
    ("injection", '[features.x]\nkind = "limit"\ncounter = {{ table = "projects; DROP TABLE member", '
     'workspace_column = "org_id" }}', "must be a table or column name"),
    ("not TOML", "[features.x\nkind =", "not valid TOML"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "text", "says"), BAD, ids=[b[0] for b in BAD])
def test_an_invalid_catalog_is_exit_2_and_stores_nothing(env, name, text, says):
    env.push(catalog(env))
    text = text.format(seats=env.seats_feature, paid=env.paid)
    path = env.catalog(text, "bad.toml")
    for extra in ([], ["--dry-run"]):
        stderr = env.cli().fails(2, "plans", "push", str(path), "--as", "root", *extra)
        assert says in stderr and "bad.toml" in stderr
    assert versions(env) == 1 and env.count("atlas_audit_log") == 1
    assert env.count("member") >= 2


def test_a_filter_value_of_the_wrong_type_is_refused_before_it_is_stored(env, db_url):
    text = '[features.x]\nkind = "limit"\ncounter = { table = "projects", workspace_column = "org_id", where = { archived = "no" } }'  # noqa: E501
    result = env.cli()("plans", "push", str(env.catalog(text)), "--as", "root")
    if db_url.startswith("sqlite"):
        assert result.exit_code == 0  # SQLite compares anything with anything
    else:
        assert result.exit_code == 2 and "cannot count in this database" in result.stderr


@pytest.mark.parametrize(("actor", "says"), [(None, "--as"), ("acme_u0", "global role"), ("ghost", "not a user")])
def test_push_needs_a_global_admin(env, actor, says):
    path = str(env.catalog(catalog(env)))
    stderr = env.cli().fails(8, "plans", "push", path, *(["--as", actor] if actor else []))
    assert says in stderr and versions(env) == 0


def test_a_missing_file_is_exit_2(env):
    assert "cannot read" in env.cli().fails(2, "plans", "push", str(env.tmp / "none.toml"), "--as", "root")


def test_without_the_catalog_tables_reads_are_built_in_and_push_says_upgrade(db_url, tmp_path):
    env = entitlement_envs.make("per-seat", db_url, tmp_path, upgrade=False)
    assert env.cli()("plans", "pull").exit_code == 0
    assert env.cli().json("plans", "history") == []
    assert env.cli().json("plans", "show", "pro")["operatorFeatures"] == []
    text = '[features.x]\nkind = "boolean"'
    assert "db upgrade" in env.cli().fails(5, "plans", "push", str(env.catalog(text)), "--as", "root")
    env.db.dispose()
