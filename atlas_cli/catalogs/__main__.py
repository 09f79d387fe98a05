"""`python -m atlas_cli.catalogs`: writes `builtin.json`, the built-in catalogs' TOML as parsed."""

import json
from pathlib import Path

from atlas_cli.catalogs import PARSED, parsed_toml

text = json.dumps(parsed_toml(), indent=1, ensure_ascii=False, allow_nan=False) + "\n"
Path(__file__).with_name(PARSED).write_text(text, encoding="utf-8")
