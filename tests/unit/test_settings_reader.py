"""The settings of the common case (no `.env`) are read without building pydantic's validator; they
must be exactly what the full reader makes of the same environment and context."""

import os
from pathlib import Path

import pytest
from pydantic import SecretStr

from atlas_cli import config
from atlas_cli.config import Settings, _plain_settings, _settings_class, load_settings
from atlas_cli.contexts import Applied
from atlas_cli.errors import BadInput

ENVIRONMENTS = [
    {},
    {"DATABASE_URL": "postgresql://atlas:pw@db/atlas", "ATLAS_WORKSPACE": "acme"},
    {"database_url": "sqlite:///lower.db", "Atlas_Actor": "mixed-case"},
    {"ATLAS_FORMAT": "json", "ATLAS_DATA_DIR": "/srv/atlas", "STRIPE_SECRET_KEY": "sk_test_1"},
    {"ATLAS_DATA_DIR": "", "ATLAS_WORKSPACE": "", "STRIPE_WEBHOOK_SECRET": ""},  # empty is a value
    {"ATLAS_TZ": "Europe/Paris", "STRIPE_PRO_PRICE_ID": "price_1", "UNRELATED": "x"},
]
CONTEXTS = [
    None,
    Applied("prod", "flag", {"database_url": "sqlite:///ctx.db", "atlas_workspace": "ctx"}),
    Applied("dev", "current", {"atlas_actor": "ctx-actor", "atlas_billing_model": "per-seat"}),
]


@pytest.fixture
def environment(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.lower() in Settings.model_fields:
            monkeypatch.delenv(name)

    def set_all(values):
        for name, value in values.items():
            monkeypatch.setenv(name, value)

    return set_all


def _dumped(settings):
    return {
        name: (type(value), value.get_secret_value() if isinstance(value, SecretStr) else value)
        for name, value in settings.model_dump().items()
    }


@pytest.mark.parametrize("context", CONTEXTS, ids=["none", "prod", "dev"])
@pytest.mark.parametrize("values", ENVIRONMENTS)
def test_the_plain_reader_gives_what_the_full_reader_gives(environment, values, context):
    environment(values)
    plain = _plain_settings(context)
    assert plain is not None
    full = _settings_class(context)()
    assert _dumped(plain) == _dumped(full)
    assert plain.model_fields_set == full.model_fields_set


def test_the_environment_wins_over_the_context(environment):
    environment({"ATLAS_WORKSPACE": "from-env"})
    plain = _plain_settings(Applied("prod", "flag", {"atlas_workspace": "from-context", "atlas_actor": "ctx"}))
    assert plain is not None
    assert (plain.atlas_workspace, plain.atlas_actor) == ("from-env", "ctx")


def test_a_dotenv_file_is_left_to_the_full_reader(environment, tmp_path):
    (tmp_path / ".env").write_text("ATLAS_WORKSPACE=from-dotenv\n")
    assert _plain_settings(None) is None
    assert load_settings().atlas_workspace == "from-dotenv"


def test_a_bad_choice_is_left_to_the_full_reader_and_worded_by_it(environment):
    environment({"ATLAS_FORMAT": "xml", "DATABASE_URL": "postgresql://atlas:hidden@db/atlas"})
    assert _plain_settings(None) is None
    with pytest.raises(BadInput) as raised:
        load_settings()
    assert str(raised.value).startswith("invalid configuration: ATLAS_FORMAT: Input should be")
    assert "hidden" not in str(raised.value)


def test_secrets_stay_masked(environment):
    environment({"DATABASE_URL": "postgresql://atlas:hidden@db/atlas", "STRIPE_SECRET_KEY": "sk_live_hidden"})
    settings = load_settings()
    assert "hidden" not in repr(settings) and "hidden" not in str(settings)
    assert isinstance(settings.database_url, SecretStr)
    assert settings.database_url.get_secret_value() == "postgresql://atlas:hidden@db/atlas"


def test_a_path_is_a_path(environment):
    environment({"ATLAS_DATA_DIR": "/srv/atlas"})
    assert config.data_dir(load_settings()) == Path("/srv/atlas")
