import random

import pytest

from atlas_cli.services.demo import _split


@pytest.mark.parametrize(("total", "parts"), [(8_400, 4_200), (10, 3), (5, 5), (2_100_000, 2_100), (7, 1)])
def test_split_adds_up_with_no_event_soaking_up_the_rounding(total, parts):
    amounts = _split(total, parts, random.Random(7))
    assert len(amounts) == parts and sum(amounts) == total and min(amounts) >= 1
    assert max(amounts) <= 2 * total / parts + 1
