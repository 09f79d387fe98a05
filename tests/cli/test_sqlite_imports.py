"""A command on a SQLite database never imports the PostgreSQL dialect (with asyncpg, pg8000,
psycopg2 and the rest): it costs start-up time a SQLite user gets nothing for (DESIGN 8).

The schema commands (`db init`, `db upgrade`, `db status`, `demo`) read or run Alembic's
migrations, which load every dialect's DDL support: they are left out (`demo` prepares the
database, in another process)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import sys
from typer.testing import CliRunner
from atlas_cli.cli.main import app
from atlas_cli.cli.runtime import Runtime
from tests import factories

url = sys.argv[1]
for args in (["usage", "history", "-w", "acme", "--period", "daily"],
             ["usage", "record", "-w", "acme", "-t", "query"], ["workspace", "list", "--json"],
             ["billing", "check", "-w", "acme"], ["usage", "show", "-w", "acme", "--json"]):
    result = CliRunner().invoke(app, ["--database-url", url, *args], obj=Runtime(clock=factories.clock))
    assert result.exit_code in (0, 10, 11, 12), (args, result.exit_code, result.stdout, result.stderr)
print(sorted(name for name in sys.modules if name.startswith("sqlalchemy.dialects.postgresql")))
"""


def test_sqlite_commands_do_not_import_the_postgresql_dialect(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'atlas.db'}"
    root = Path(__file__).resolve().parents[2]
    demo = subprocess.run(
        [sys.executable, "-m", "atlas_cli", "--database-url", url, "demo"], capture_output=True, cwd=root, check=False
    )
    assert demo.returncode == 0, demo.stderr
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, url], capture_output=True, text=True, cwd=root, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


GROUPS_SCRIPT = """
import sys
from typer.testing import CliRunner
from atlas_cli.cli.main import COMMANDS, app

result = CliRunner().invoke(app, ["--database-url", sys.argv[1], "workspace", "list", "--json"])
assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
modules = {module for _name, group, _function in COMMANDS for module in group}
print(sorted(module for module in modules if f"atlas_cli.cli.{module}" in sys.modules))
print("tomlkit" in sys.modules)
"""


def test_a_command_imports_only_its_own_group_and_no_toml_writer(tmp_path: Path) -> None:
    """`workspace list` imports the workspace group's module and none of the other groups'; with
    no contexts file, tomlkit (which only the contexts file needs) stays unimported too."""
    url = f"sqlite:///{tmp_path / 'atlas.db'}"
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config")}
    env.pop("ATLAS_CONTEXT", None)
    init = subprocess.run(
        [sys.executable, "-m", "atlas_cli", "--database-url", url, "db", "init"],
        capture_output=True,
        cwd=root,
        env=env,
        check=False,
    )
    assert init.returncode == 0, init.stderr
    done = subprocess.run(
        [sys.executable, "-c", GROUPS_SCRIPT, url],
        capture_output=True,
        text=True,
        cwd=root,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["['workspace']", "False"]
