"""All terminal output: Rich tables, bars and charts for people, JSON and CSV for scripts.

`base` holds the plumbing (escaping, CSV cells, JSON numbers, the consoles), `console` the
table fitting, and one module per area renders its reports; `Renderer` gathers them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from atlas_cli.render.reports import Renderer

__all__ = ["Renderer"]


def __getattr__(name: str) -> Any:
    # Rich and the report modules are imported only when a command renders something.
    if name == "Renderer":
        from atlas_cli.render.reports import Renderer

        return Renderer
    raise AttributeError(name)
