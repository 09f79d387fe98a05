"""The Rich console of atlas: every string it draws is made safe for a terminal first.

Imported only when a person's output is drawn (it imports Rich).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

from atlas_cli.render.base import clean

if TYPE_CHECKING:
    from rich.table import Table  # imported by `fitted`, when a table is drawn


class SafeConsole(Console):
    """A Console that shows control characters in strings escaped instead of sending them.

    Rich turns every string it prints (text lines, table cells, titles) into a Text through
    `render_str`, so escaping there covers every name, email or metadata value a tenant chose.
    """

    def render_str(self, text: str, **kwargs: Any) -> Text:
        return super().render_str(clean(text), **kwargs)

    def print_table(self, table: Table, need: int) -> None:
        """Prints `table`, wider than the terminal if it needs `need` columns and has fewer."""
        if need <= self.width:
            self.print(table)
            return
        width = self.width
        self.width = need
        try:
            self.print(table)
        finally:
            self.width = width


# --- tables that never cut an id, a slug, a number or a date ---------------------------------

BAR_WIDTHS = (10, 30)  # narrowest and widest usage bar


def kind_of(header: str) -> str:
    """A column's kind from its header: `Used#` a number, `Name~` free text, `` (no header) a
    decoration (bars, charts); anything else a value kept whole (id, slug, date, status)."""
    if not header:
        return "deco"
    return {"#": "number", "~": "text"}.get(header[-1], "value")


def _width(cell: Any) -> int:
    if isinstance(cell, str):
        return cell_len(clean(cell))
    if isinstance(cell, Text):
        return cell.cell_len
    return BAR_WIDTHS[0]


def _least(kind: str, header: str, cells: list[Any], fold: bool = True) -> int:
    """The narrowest a column may be: values and numbers as wide as their widest cell (and the
    longest word of their header); free text folds down to 10 columns (with `fold`), or else to
    its longest word; a bar shrinks to 10 columns, a chart not at all."""
    widest = max(map(_width, cells), default=0)
    word = max(map(len, header.split()), default=0)
    if kind == "text":
        longest = max(word, *(len(w) for cell in cells if isinstance(cell, str) for w in clean(cell).split()), 0)
        return min(longest, 10) if fold else longest
    if kind == "deco":
        return widest
    return max(widest, word)


def fitted(columns: Sequence[str], rows: Sequence[Sequence[Any]], width: int, **kwargs: Any) -> tuple[Table, int]:
    """The table laid out for a terminal `width` columns wide, and the width it needs.

    When it does not fit, the decorations (bars, charts) go first, then the borders; free text
    (names, details) folds. Ids, slugs, numbers and dates are never cut or wrapped: if they alone
    do not fit, the width needed is more than `width`, and the table is printed that wide (with
    free text unfolded, since the terminal wraps the lines anyway).
    """
    headers = [c.rstrip("#~") for c in columns]
    kinds = [kind_of(c) for c in columns]
    cells = [[row[i] for row in rows] for i in range(len(columns))]
    least = [_least(k, h, c) for k, h, c in zip(kinds, headers, cells, strict=True)]
    for boxed, decorated in ((True, True), (True, False), (False, False)):
        keep = [i for i, k in enumerate(kinds) if decorated or k != "deco"]
        need = sum(least[i] for i in keep) + (3 * len(keep) + 1 if boxed else max(2 * len(keep) - 2, 0))
        if need <= width:
            break
    else:
        need += sum(_least(kinds[i], headers[i], cells[i], fold=False) - least[i] for i in keep)
    from rich.table import Table

    style: dict[str, Any] = {} if boxed else {"box": None, "pad_edge": False, "header_style": "bold"}
    table = Table(**style, **kwargs)
    for i in keep:
        _add_column(table, headers[i], kinds[i], least[i])
    for row in rows:
        table.add_row(*(row[i] for i in keep))
    return table, need


def _add_column(table: Table, header: str, kind: str, least: int) -> None:
    title = Text(header, overflow="fold")  # a header wraps between its words, never cut
    if kind == "text":
        table.add_column(title, overflow="fold")
    elif kind == "deco":
        table.add_column(title, min_width=least, max_width=BAR_WIDTHS[1], overflow="crop")
    else:
        table.add_column(title, width=least, overflow="fold", justify="right" if kind == "number" else "left")
