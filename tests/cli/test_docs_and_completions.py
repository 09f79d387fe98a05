"""Help, README and shell completions stay in step with the CLI."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from atlas_cli.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = {"source_bash": "atlas.bash", "source_zsh": "_atlas.zsh", "source_fish": "atlas.fish"}


def command_paths():
    root = typer.main.get_command(app)
    for name, command in sorted(root.commands.items()):
        subcommands = getattr(command, "commands", None)
        if subcommands:
            for sub in sorted(subcommands):
                yield (name, sub)
        else:
            yield (name,)


def run_atlas(env_extra, args=(), *, cached=True):
    """Run atlas as its console script does (`cached=False`: straight into the Typer app)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), **env_extra}
    entry = "from atlas_cli.entry import run" if cached else "from atlas_cli.cli.main import run"
    code = f"import sys; sys.argv[0] = 'atlas'; {entry}; run()"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env)


@pytest.mark.parametrize("instruction", sorted(SCRIPTS))
def test_committed_completion_scripts_match_the_cli(instruction):
    generated = run_atlas({"_ATLAS_COMPLETE": instruction})
    assert generated.returncode == 0, generated.stderr
    committed = (ROOT / "completions" / SCRIPTS[instruction]).read_text()
    assert generated.stdout == committed, "run completions/generate.sh"


def test_bash_completion_offers_every_command_of_each_group():
    root = typer.main.get_command(app)
    for name, group in root.commands.items():
        if not getattr(group, "commands", None):
            continue
        offered = run_atlas({"_ATLAS_COMPLETE": "complete_bash", "COMP_WORDS": f"atlas {name} ", "COMP_CWORD": "2"})
        assert set(offered.stdout.split()) == set(group.commands), name


@pytest.mark.parametrize("path", list(command_paths()), ids=" ".join)
def test_every_command_has_help_and_is_in_the_readme(path):
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage: atlas " + " ".join(path) in result.output
    readme = (ROOT / "README.md").read_text()
    assert "atlas " + " ".join(path) in readme, f"README.md does not document `atlas {' '.join(path)}`"


def test_readme_documents_every_exit_code():
    from atlas_cli.errors import ExitCode

    readme = (ROOT / "README.md").read_text()
    for code in ExitCode:
        assert f"| {int(code)} |" in readme or f"| {int(code)} " in readme, code


@pytest.mark.parametrize("columns", ["80", "200"])
def test_cached_root_help_is_what_the_cli_prints(columns):
    live = run_atlas({"COLUMNS": columns}, ["--help"], cached=False)
    cached = run_atlas({"COLUMNS": columns}, ["--help"])
    assert live.returncode == cached.returncode == 0
    assert cached.stdout == live.stdout == (ROOT / "atlas_cli" / "root_help.txt").read_text(), (
        "run completions/generate.sh"
    )


def test_narrow_terminals_get_typer_help():
    narrow = run_atlas({"COLUMNS": "60"}, ["--help"])
    assert narrow.returncode == 0 and "Usage: atlas" in narrow.stdout
    assert narrow.stdout != (ROOT / "atlas_cli" / "root_help.txt").read_text()
