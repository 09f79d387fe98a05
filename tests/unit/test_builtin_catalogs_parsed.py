"""The built-in catalogs are read from `builtin.json`, their TOML as parsed: it must hold exactly
what the TOML files parse to (regenerate it with `python -m atlas_cli.catalogs` after editing one)."""

import json
from importlib import resources

from atlas_cli import catalogs
from atlas_cli.domain.catalog import parse


def test_the_parsed_catalogs_are_what_the_toml_files_parse_to():
    stored = json.loads(resources.files(catalogs).joinpath(catalogs.PARSED).read_text(encoding="utf-8"))
    assert stored == catalogs.parsed_toml()
    assert list(stored) == list(catalogs.MODELS)


def test_each_builtin_catalog_is_the_one_its_toml_file_makes():
    for model, document in catalogs.parsed_toml().items():
        assert catalogs.builtin(model) == parse(document)
