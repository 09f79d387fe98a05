"""The built-in catalogs of the two generations of Atlas billing, as data (DESIGN section 4c).

Each `<model>.toml` beside this module is one billing model: its plans, its features and the
policies of its enforcement decision. `atlas_cli.domain.catalog` reads them; the engine in
`atlas_cli.domain.engine` decides from them. A new rule is an entry here, not code.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from atlas_cli.domain.catalog import Catalog

MODELS = ("classic", "per-seat")


@cache
def builtin(model: str) -> Catalog:
    """The built-in catalog of a billing model (`classic` or `per-seat`), read once."""
    import tomllib
    from importlib import resources

    from atlas_cli.domain.catalog import parse

    if model not in MODELS:
        raise ValueError(f"no built-in catalog {model!r}; the billing models are {', '.join(MODELS)}")
    text = resources.files(__name__).joinpath(f"{model}.toml").read_text(encoding="utf-8")
    return parse(tomllib.loads(text))
