"""The bars of `usage history`'s chart, in eighths of a cell."""

import pytest

from atlas_cli.render.base import CHART_WIDTH, chart_bar


@pytest.mark.parametrize(
    ("value", "top", "bar"),
    [
        (0, 100, ""),
        (5, 0, ""),
        (1, 10_000, "▏"),  # tiny, but above zero: seen
        (1, 96, "▏"),
        (4, 96, "▌"),
        (7, 96, "▉"),
        (8, 96, "█"),
        (12, 96, "█▌"),
        (96, 96, "█" * 12),
        (200, 96, "█" * 12),  # never longer than the chart
        (50, 100, "█" * 6),
    ],
)
def test_chart_bar(value, top, bar):
    assert chart_bar(value, top) == bar


def test_chart_bar_width_grows_with_the_value():
    widths = [len(chart_bar(v, 1000)) for v in range(0, 1001, 7)]
    assert widths == sorted(widths) and max(widths) == CHART_WIDTH
