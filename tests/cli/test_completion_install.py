"""`atlas completion install`: the script where each shell loads it, idempotently, with HOME in a
temporary directory; completion of tiers and context names."""

import json
import subprocess

import pytest
from typer.testing import CliRunner

from atlas_cli.cli.main import app
from atlas_cli.cli.runtime import Runtime
from tests import factories
from tests.cli.test_choices_and_completion import complete
from tests.cli.test_docs_and_completions import ROOT, SCRIPTS

SHIPPED = {"bash": "atlas.bash", "zsh": "_atlas.zsh", "fish": "atlas.fish"}
assert set(SHIPPED.values()) == set(SCRIPTS.values())


@pytest.fixture
def home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "ZDOTDIR", "SHELL"):
        monkeypatch.delenv(name, raising=False)
    return home


def install(*args, env=None):
    result = CliRunner().invoke(app, ["completion", "install", *args], obj=Runtime(), env=env)
    return result


@pytest.mark.parametrize(
    ("shell", "script", "startup"),
    [
        ("bash", ".local/share/bash-completion/completions/atlas", ".bashrc"),
        ("zsh", ".zfunc/_atlas", ".zshrc"),
        ("fish", ".config/fish/completions/atlas.fish", None),
    ],
)
def test_install_writes_the_shipped_script_where_the_shell_loads_it_once(home, shell, script, startup):
    if startup:
        (home / startup).write_text("# my settings\nalias ll='ls -l'")  # no final newline
    first = install(shell)
    assert first.exit_code == 0, first.output + first.stderr
    assert f"Wrote {home / script}" in first.stdout
    assert (home / script).read_text() == (ROOT / "completions" / SHIPPED[shell]).read_text()
    if startup:
        lines = (home / startup).read_text().splitlines()
        assert lines[:2] == ["# my settings", "alias ll='ls -l'"]
        assert len(lines) == 3 and str(home / script) in lines[2]
        assert f"Added a line that loads it to {home / startup}" in first.stdout
    again = install(shell, "--json")
    assert again.exit_code == 0
    data = json.loads(again.stdout)
    assert data["scriptChanged"] is False and data["startupFileChanged"] is False
    if startup:
        assert len((home / startup).read_text().splitlines()) == 3
    assert sorted(str(p.relative_to(home)) for p in home.rglob("*") if p.is_file()) == sorted(
        filter(None, [script, startup])
    )


def test_the_shell_comes_from_SHELL(home):
    result = install(env={"SHELL": "/usr/local/bin/zsh"})
    assert result.exit_code == 0 and (home / ".zfunc" / "_atlas").is_file()
    for shell in ("/bin/tcsh", ""):
        refused = install(env={"SHELL": shell})
        assert refused.exit_code == 2 and refused.stderr.startswith("Error: cannot tell the shell")
    assert install("powershell").exit_code == 2


def test_bash_loads_the_installed_script_from_bashrc(home):
    assert install("bash").exit_code == 0
    shown = subprocess.run(
        ["bash", "--norc", "-c", "source ~/.bashrc && complete -p atlas"],
        capture_output=True,
        text=True,
        env={"HOME": str(home), "PATH": "/usr/bin:/bin"},
    )
    assert shown.returncode == 0, shown.stderr
    assert "-F _atlas_completion atlas" in shown.stdout


def test_a_moved_script_replaces_the_old_line(home, monkeypatch):
    assert install("bash").exit_code == 0
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    assert install("bash").exit_code == 0
    lines = (home / ".bashrc").read_text().splitlines()
    assert len(lines) == 1 and str(home / "data" / "bash-completion") in lines[0]


def test_an_unwritable_place_is_one_line_exit_2(home):
    (home / ".zfunc").write_text("a file where a directory should be")
    result = install("zsh")
    assert result.exit_code == 2 and result.stderr.startswith("Error: cannot write") and result.stderr.count("\n") == 1


def test_completion_script_prints_the_shipped_script():
    result = CliRunner().invoke(app, ["completion", "script", "fish"])
    assert result.exit_code == 0 and result.stdout == (ROOT / "completions" / "atlas.fish").read_text()


def test_the_root_help_lists_only_the_documented_completion_command():
    shown = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "80"}).stdout
    assert "completion    Shell completion" in shown
    assert "--install-completion" not in shown and "--show-completion" not in shown


def test_tiers_complete_from_the_databases_billing_model(atlas_db):
    with atlas_db.begin() as conn:
        factories.workspace(conn, "ws_acme", slug="acme")
    env = {"DATABASE_URL": atlas_db.url}
    assert complete("workspace set-plan ", env) == ["enterprise", "free", "locked", "team", "trial"]
    assert complete("plans show t", env) == ["team", "trial"]
    assert complete("workspace list --tier e", env) == ["enterprise"]
    assert complete("plans show ", {**env, "ATLAS_BILLING_MODEL": "per-seat"}) == [
        "business",
        "free",
        "locked",
        "pro",
        "starter",
        "trial",
    ]


def test_tiers_of_both_models_without_a_database(tmp_path):
    assert complete("plans show ", {"ATLAS_DATA_DIR": str(tmp_path / "none")}) == [
        "business",
        "enterprise",
        "free",
        "locked",
        "pro",
        "starter",
        "team",
        "trial",
    ]


def test_context_names_complete_and_choose_the_database_of_slug_completion(atlas_db, tmp_path):
    with atlas_db.begin() as conn:
        factories.workspace(conn, "ws_acme", slug="acme")
    config = tmp_path / "config"
    runner = CliRunner()
    for name in ("prod", "preview", "staging"):
        url = atlas_db.url if name == "prod" else f"sqlite:///{tmp_path / name}.db"
        added = runner.invoke(app, ["context", "add", name, "--database-url", url], obj=Runtime())
        assert added.exit_code == 0, added.stderr
    env = {"XDG_CONFIG_HOME": str(config)}
    assert complete("--context p", env) == ["preview", "prod"]
    assert complete("context use ", env) == ["preview", "prod", "staging"]
    assert complete("--context prod usage show -w ", env) == ["acme"]
    assert complete("usage show -w ", {**env, "ATLAS_CONTEXT": "prod"}) == ["acme"]
    assert complete("--context staging usage show -w ", env) == []
    assert complete("--context a/b usage show -w ", env) == []


def test_option_values_complete(tmp_path):
    assert complete("completion install ") == ["bash", "zsh", "fish"]
    assert complete("context add x --billing-model ") == ["classic", "per-seat"]
