"""Contexts: named databases in the user config directory (0600, passwords masked), chosen by
--context, ATLAS_CONTEXT or `context use`; flag > environment > context > .env > default."""

import json
import os
import stat

import pytest
from typer.testing import CliRunner

from atlas_cli.cli.main import app
from atlas_cli.cli.runtime import Runtime
from tests import factories

SECRET = "s3cr3t-pw"
PG_URL = f"postgresql://atlas:{SECRET}@db.internal:5432/atlas"


def atlas(*args, env=None):
    return CliRunner().invoke(app, list(args), obj=Runtime(clock=factories.clock), env=env)


def ok(*args, env=None):
    result = atlas(*args, env=env)
    assert result.exit_code == 0, result.output + result.stderr
    return result


def config_file(tmp_path):
    return tmp_path / "config" / "atlas" / "config.toml"


def settings(*args, env=None):
    rows = json.loads(ok(*args, "config", "show", "--json", env=env).stdout)
    return {row["name"]: (row["value"], row["source"]) for row in rows}


def test_add_list_use_show_remove(tmp_path):
    added = ok("context", "add", "prod", "--database-url", PG_URL, "-w", "acme", "--as", "ops@acme.test")
    assert "prod added" in added.stdout and "atlas context use prod" in added.stderr
    ok("context", "add", "staging", "--database-url", "sqlite:///staging.db", "--billing-model", "per-seat")
    listed = json.loads(ok("context", "list", "--json").stdout)
    assert [(c["name"], c["current"]) for c in listed] == [("prod", False), ("staging", False)]
    assert listed[0]["databaseUrl"] == "postgresql://atlas:***@db.internal:5432/atlas"
    assert listed[0]["workspace"] == "acme" and listed[0]["actor"] == "ops@acme.test"
    assert listed[1]["billingModel"] == "per-seat"

    assert json.loads(ok("context", "show", "--json").stdout) == {}
    ok("context", "use", "staging")
    shown = json.loads(ok("context", "show", "--json").stdout)
    assert shown["name"] == "staging" and shown["current"] and shown["chosenBy"] == "current"
    assert json.loads(ok("--context", "prod", "context", "show", "--json").stdout)["chosenBy"] == "flag"
    assert json.loads(ok("context", "show", "--json", env={"ATLAS_CONTEXT": "prod"}).stdout)["chosenBy"] == "env"
    assert json.loads(ok("context", "show", "prod", "--json").stdout)["name"] == "prod"

    removed = json.loads(ok("context", "remove", "staging", "--json").stdout)
    assert removed["action"] == "removed"
    assert [c["name"] for c in json.loads(ok("context", "list", "--json").stdout)] == ["prod"]
    assert json.loads(ok("context", "show", "--json").stdout) == {}  # the current one was removed


def test_the_file_is_created_0600_and_passwords_are_masked_everywhere(tmp_path):
    previous = os.umask(0)  # a file created 0644 and chmod-ed later would still end 0600: the umask proves it
    try:
        outputs = [ok("context", "add", "prod", "--database-url", PG_URL, "--use")]
    finally:
        os.umask(previous)
    path = config_file(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert SECRET in path.read_text()
    outputs += [
        ok("context", "list"),
        ok("context", "list", "--format", "csv"),
        ok("context", "show"),
        ok("context", "show", "prod", "--json"),
        ok("context", "use", "prod"),
        ok("config", "show"),
        ok("config", "show", "--json"),
        ok("context", "add", "prod", "--database-url", PG_URL, "--replace"),
    ]
    for result in outputs:
        assert SECRET not in result.stdout + result.stderr
    assert "postgresql://atlas:***@db.internal" in outputs[1].stdout
    assert "Current" in outputs[1].stdout and "*" in outputs[1].stdout
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # rewritten, still 0600


def test_a_rewrite_keeps_the_users_comments(tmp_path):
    path = config_file(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text('# my databases\n[contexts.prod] # the big one\ndatabase_url = "sqlite:///p.db"\n')
    ok("context", "add", "dev", "--database-url", "sqlite:///d.db")
    text = path.read_text()
    assert "# my databases" in text and "# the big one" in text and "[contexts.dev]" in text


@pytest.mark.parametrize("name", ["", "a/b", "../etc", "a\\b", "..", ".hidden", "a b", "a\x1bb", "x\n", "x" * 65])
def test_hostile_names_are_refused_with_exit_2(tmp_path, name):
    ok("context", "add", "prod", "--database-url", "sqlite:///p.db")
    attempts = [
        atlas("context", "add", name, "--database-url", "sqlite:///x.db"),
        atlas("context", "use", name),
        atlas("context", "remove", name),
        atlas("context", "show", name),
        atlas("--context", name, "config", "show"),
    ]
    if name:  # an empty ATLAS_CONTEXT is unset
        attempts.append(atlas("workspace", "list", env={"ATLAS_CONTEXT": name}))
    for result in attempts:
        assert result.exit_code == 2, result.output + result.stderr
        assert result.stderr.startswith("Error: context name") and result.stderr.count("\n") == 1
        assert "\x1b" not in result.stderr
    assert list(config_file(tmp_path).parent.iterdir()) == [config_file(tmp_path)]


def test_unknown_contexts_are_exit_3_and_taken_names_exit_4(tmp_path):
    for result in (atlas("context", "use", "nope"), atlas("--context", "nope", "workspace", "list")):
        assert result.exit_code == 3 and "no context named 'nope'" in result.stderr
    ok("context", "add", "prod", "--database-url", "sqlite:///p.db")
    for result in (
        atlas("context", "use", "nope"),
        atlas("context", "remove", "nope"),
        atlas("workspace", "list", env={"ATLAS_CONTEXT": "nope"}),
    ):
        assert result.exit_code == 3 and "no context named 'nope'" in result.stderr
    taken = atlas("context", "add", "prod", "--database-url", "sqlite:///other.db")
    assert taken.exit_code == 4 and "--replace" in taken.stderr
    assert "sqlite:///p.db" in config_file(tmp_path).read_text()


def test_bad_values_are_refused_without_echoing_them(tmp_path):
    bad_url = atlas("context", "add", "prod", "--database-url", f"mysql://root:{SECRET}@db/atlas")
    assert bad_url.exit_code == 2 and SECRET not in bad_url.stderr
    bad_model = atlas("context", "add", "prod", "--database-url", "sqlite:///p.db", "--billing-model", "weekly")
    assert bad_model.exit_code == 2
    assert not config_file(tmp_path).exists()


def test_a_corrupt_file_is_exit_2_naming_the_line(tmp_path):
    path = config_file(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text(f'[contexts.prod]\ndatabase_url = "postgresql://a:{SECRET}@h/d\n')
    for result in (atlas("context", "list"), atlas("workspace", "list")):
        assert result.exit_code == 2 and "is not valid TOML (line 2" in result.stderr
        assert SECRET not in result.stderr


def test_the_context_chooses_the_database(db_url, tmp_path):
    db = factories.migrated(db_url)
    with db.begin() as conn:
        factories.workspace(conn, "ws_acme", slug="acme")
    db.dispose()
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    factories.migrated(empty).dispose()
    ok("context", "add", "main", "--database-url", db_url, "-w", "acme")
    ok("context", "add", "empty", "--database-url", empty, "--use")

    def slugs(*args, env=None):
        return [w["slug"] for w in json.loads(ok(*args, "workspace", "list", "--json", env=env).stdout)]

    assert slugs() == []
    assert slugs("--context", "main") == ["acme"]
    assert slugs(env={"ATLAS_CONTEXT": "main"}) == ["acme"]
    assert slugs("--context", "empty", env={"ATLAS_CONTEXT": "main"}) == []  # flag over environment
    assert slugs("--context", "main", env={"DATABASE_URL": empty}) == []  # environment over context
    shown = json.loads(ok("--context", "main", "billing", "status", "--json").stdout)  # the context's workspace
    assert shown["workspaceId"] == "ws_acme"


@pytest.mark.parametrize(
    ("flag", "env", "context", "dotenv", "expected"),
    [
        (None, None, None, None, (None, "default")),
        (None, None, None, "from-dotenv", ("from-dotenv", ".env")),
        (None, None, "from-context", "from-dotenv", ("from-context", "context prod")),
        (None, None, "from-context", None, ("from-context", "context prod")),
        (None, "from-env", "from-context", "from-dotenv", ("from-env", "env")),
        (None, "from-env", None, "from-dotenv", ("from-env", "env")),
        ("from-flag", "from-env", "from-context", "from-dotenv", ("from-flag", "flag")),
        ("from-flag", None, "from-context", None, ("from-flag", "flag")),
        ("from-flag", None, None, "from-dotenv", ("from-flag", "flag")),
    ],
)
def test_precedence_flag_env_context_dotenv_default(tmp_path, flag, env, context, dotenv, expected):
    add = ["context", "add", "prod", "--database-url", f"sqlite:///{tmp_path / 'ctx.db'}", "--use"]
    ok(*add, *(["-w", context] if context else []))
    if dotenv:
        (tmp_path / ".env").write_text(f"ATLAS_WORKSPACE={dotenv}\n")
    rows = settings(*(["-w", flag] if flag else []), env={"ATLAS_WORKSPACE": env} if env else None)
    assert rows["ATLAS_WORKSPACE"] == expected
    assert rows["context"] == ("prod", "current (atlas context use)")


@pytest.mark.parametrize(
    ("flag", "env", "dotenv", "expected_source"),
    [
        (False, False, False, "context prod"),
        (False, False, True, "context prod"),
        (False, True, True, "env"),
        (True, True, True, "flag"),
    ],
)
def test_database_url_precedence(tmp_path, flag, env, dotenv, expected_source):
    urls = {k: f"sqlite:///{tmp_path / k}.db" for k in ("flag", "env", "context", "dotenv")}
    ok("context", "add", "prod", "--database-url", urls["context"])
    if dotenv:
        (tmp_path / ".env").write_text(f"DATABASE_URL={urls['dotenv']}\n")
    args = ["--context", "prod", *(["--database-url", urls["flag"]] if flag else [])]
    rows = settings(*args, env={"DATABASE_URL": urls["env"]} if env else None)
    value, source = rows["DATABASE_URL"]
    assert source == expected_source
    assert value == urls[{"context prod": "context"}.get(source, source)]
    assert rows["context"] == ("prod", "flag")


def test_without_a_context_config_show_says_none_and_dotenv_beats_default(tmp_path):
    (tmp_path / ".env").write_text(f"DATABASE_URL=sqlite:///{tmp_path / 'dotenv.db'}\n")
    rows = settings()
    assert rows["context"] == (None, "none")
    assert rows["DATABASE_URL"][1] == ".env"
