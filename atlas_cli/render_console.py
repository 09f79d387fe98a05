"""The Rich console of atlas: every string it draws is made safe for a terminal first.

Imported only when a person's output is drawn (it imports Rich).
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.text import Text

from atlas_cli.render_base import clean


class SafeConsole(Console):
    """A Console that shows control characters in strings escaped instead of sending them.

    Rich turns every string it prints (text lines, table cells, titles) into a Text through
    `render_str`, so escaping there covers every name, email or metadata value a tenant chose.
    """

    def render_str(self, text: str, **kwargs: Any) -> Text:
        return super().render_str(clean(text), **kwargs)
