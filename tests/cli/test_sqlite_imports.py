"""A command on a SQLite database never imports the PostgreSQL dialect (with asyncpg, pg8000,
psycopg2 and the rest): it costs start-up time a SQLite user gets nothing for (DESIGN 8).

The schema commands (`db init`, `db upgrade`, `db status`, `demo`) read or run Alembic's
migrations, which load every dialect's DDL support: they are left out (`demo` prepares the
database, in another process)."""

from __future__ import annotations

import os
import sqlite3
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


START_SCRIPT = """
import sys
sys.argv = ["atlas", "--database-url", sys.argv[1], "billing", "check", "-w", "acme"]
from atlas_cli.entry import run
try:
    run()
except SystemExit as exc:
    assert exc.code in (0, None), exc.code
from atlas_cli.config import Settings
from atlas_cli.db import schema
print("---")
print(sorted(name for name in ("rich", "tomllib") if name in sys.modules))
print(Settings.__pydantic_complete__, len(schema._TABLES) < len(schema._BUILDERS))
"""


def test_a_piped_command_skips_rich_toml_the_settings_validator_and_unused_tables(tmp_path: Path) -> None:
    """`billing check` on a pipe, with no `.env`: its lines are written without Rich, the built-in
    catalogs are read without parsing TOML, the settings without building pydantic's validator, and
    only the tables it names are built."""
    url = f"sqlite:///{tmp_path / 'atlas.db'}"
    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE", "ATLAS_CONTEXT")}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    made = subprocess.run(
        [sys.executable, "-m", "atlas_cli", "--database-url", url, "db", "init"],
        capture_output=True,
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(root)},
        check=False,
    )
    assert made.returncode == 0, made.stderr
    with sqlite3.connect(tmp_path / "atlas.db") as conn:
        conn.execute(
            'INSERT INTO organization (id, name, slug, "createdAt", plan_tier) '
            "VALUES ('acme', 'Acme', 'acme', '2026-01-01 00:00:00.000000', 'team')"
        )
    done = subprocess.run(
        [sys.executable, "-c", START_SCRIPT, url],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(root)},
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines, facts = done.stdout.split("---\n")
    assert lines.startswith("allowed · ok · ")
    assert facts.split("\n")[:2] == ["[]", "False True"]
