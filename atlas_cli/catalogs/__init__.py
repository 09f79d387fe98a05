"""The built-in catalogs of the two generations of Atlas billing, as data (DESIGN section 4c).

Each `<model>.toml` beside this module is one billing model: its plans, its features and the
policies of its enforcement decision. `atlas_cli.domain.catalog` reads them; the engine in
`atlas_cli.domain.engine` decides from them. A new rule is an entry here, not code.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from atlas_cli.domain.catalog import Catalog

MODELS = ("classic", "per-seat")
# The TOML of every model as parsed, in one JSON document that reads far faster than TOML parses
# (a command reads the built-in catalogs on every start). Generated from the TOML files by
# `python -m atlas_cli.catalogs` (completions/generate.sh); the tests check it parses the same.
PARSED = "builtin.json"


@cache
def builtin(model: str) -> Catalog:
    """The built-in catalog of a billing model (`classic` or `per-seat`), read once."""
    from atlas_cli.domain.catalog import parse

    if model not in MODELS:
        raise ValueError(f"no built-in catalog {model!r}; the billing models are {', '.join(MODELS)}")
    return parse(_documents()[model])


@cache
def _documents() -> dict[str, Any]:
    import json
    from importlib import resources

    return dict(json.loads(resources.files(__name__).joinpath(PARSED).read_text(encoding="utf-8")))


def parsed_toml() -> dict[str, Any]:
    """Every model's TOML file, parsed: what `builtin.json` holds."""
    import tomllib
    from importlib import resources

    files = resources.files(__name__)
    return {model: tomllib.loads(files.joinpath(f"{model}.toml").read_text(encoding="utf-8")) for model in MODELS}
