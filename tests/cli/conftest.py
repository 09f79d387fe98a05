import json

import pytest
from typer.testing import CliRunner

from atlas_cli.cli.main import app
from atlas_cli.cli.runtime import Runtime
from tests import factories


class Atlas:
    """Runs the real Typer app against one database with the clock pinned."""

    def __init__(self, url: str | None) -> None:
        self.url = url
        self.runner = CliRunner()

    def __call__(self, *args: str, clock=factories.clock, input: str | None = None):
        prefix = ["--database-url", self.url] if self.url else []
        return self.runner.invoke(app, [*prefix, *args], obj=Runtime(clock=clock), input=input)

    def json(self, *args: str, code: int = 0):
        result = self(*args, "--json")
        assert result.exit_code == code, result.output + result.stderr
        return json.loads(result.stdout)


@pytest.fixture
def atlas_db(db_url):
    db = factories.migrated(db_url)
    yield db
    db.dispose()


@pytest.fixture
def atlas(atlas_db):
    return Atlas(atlas_db.url)
