"""Command-line administration for Atlas billing and usage metering, and its Python library.

    from atlas_cli import Atlas

`Atlas` (atlas_cli.library) is imported on first use, so `import atlas_cli` and `atlas --help`
stay cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Atlas", "decision_json"]

if TYPE_CHECKING:
    from atlas_cli.library import Atlas, decision_json


def __getattr__(name: str) -> Any:
    if name in __all__:
        from atlas_cli import library

        return getattr(library, name)
    raise AttributeError(f"module 'atlas_cli' has no attribute {name!r}")
