"""Enumerated options are Typer choices that help and completion list; workspace slugs complete
from the database; a usage error is one line and exit 2."""

import pytest
from typer.testing import CliRunner

from atlas_cli.cli.main import app
from tests import factories
from tests.cli.test_docs_and_completions import run_atlas


@pytest.mark.parametrize(
    ("command", "choices"),
    [
        (("usage", "show"), "<table|json|csv>"),
        (("usage", "history"), "<daily|monthly>"),
        (("usage", "breakdown"), "<queries|tokens|logins>"),
        (("usage", "aggregate"), "<daily|monthly|both>"),
        (("usage", "verify"), "<daily|monthly|both>"),
        (("usage", "ingest"), "<jsonl|csv>"),
        (("usage", "export"), "<ndjson|csv>"),
        (("usage", "record"), "<query|token|login>"),
        (("billing", "check"), "<warning|soft>"),
        (("billing", "check"), "<members|connections|chat|knowledge>"),
    ],
)
def test_help_lists_the_choices(command, choices):
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0 and choices in result.output


def complete(words, env=None):
    line = f"atlas {words}"
    result = run_atlas(
        {
            "_ATLAS_COMPLETE": "complete_bash",
            "COMP_WORDS": line,
            "COMP_CWORD": str(len(words.split(" "))),
            **(env or {}),
        }
    )
    assert result.returncode == 0 and result.stderr == "", result.stderr
    return result.stdout.split()


@pytest.mark.parametrize(
    ("words", "offered"),
    [
        ("usage history --period ", ["daily", "monthly"]),
        ("usage breakdown --sort t", ["tokens"]),
        ("billing check --fail-on ", ["warning", "soft"]),
        ("--format ", ["table", "json", "csv"]),
        ("usage record --type ", ["query", "token", "login"]),
    ],
)
def test_completion_offers_the_choices(words, offered):
    assert complete(words) == offered


def test_workspace_slugs_complete_from_the_database(atlas_db, tmp_path):
    with atlas_db.begin() as conn:
        factories.workspace(conn, "ws_acme", slug="acme")
        factories.workspace(conn, "ws_acorn", slug="acorn")
        factories.workspace(conn, "ws_globex", slug="globex")
    env = {"DATABASE_URL": atlas_db.url}
    assert complete("usage show -w ac", env) == ["acme", "acorn"]
    assert complete("workspace show ", env) == ["acme", "acorn", "globex"]
    assert complete(f"--database-url {atlas_db.url} -w g") == ["globex"]


def test_workspace_completion_offers_nothing_without_a_database(tmp_path):
    assert complete("usage show -w ", {"ATLAS_DATA_DIR": str(tmp_path / "none")}) == []
    assert complete("usage show -w ", {"DATABASE_URL": "postgresql://atlas:pw@127.0.0.1:1/atlas"}) == []
    assert not (tmp_path / "none").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["usage", "history", "--period", "weekly"], "--period: 'weekly' is not one of daily, monthly"),
        (["usage", "history", "--limit", "many"], "'many' is not a valid int"),
        (["usage", "show", "--bogus"], "No such option: --bogus"),
        (["--format", "xml", "plans", "list"], "--format: 'xml' is not one of table, json, csv"),
        (["billing", "check", "--resource", "seats"], "--resource: 'seats' is not one of members, connections"),
    ],
)
def test_a_usage_error_is_one_line_and_exit_2(args, message):
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1 and message in result.stderr


def test_choices_accept_any_case_as_before(atlas, atlas_db):
    with atlas_db.begin() as conn:
        factories.workspace(conn, "acme")
    check = atlas.json("billing", "check", "-w", "acme", "--fail-on", "SOFT", "--resource", "Members")
    assert check["resource"] == "members"
    history = atlas("usage", "history", "-w", "acme", "--period", "Daily", "--limit", "1", "--format", "JSON")
    assert history.exit_code == 0 and '"period": "daily"' in history.stdout
