import pytest

from atlas_cli.domain.overage import Status, status_for, usage_percent, worst


@pytest.mark.parametrize(
    ("usage", "limit", "percent"),
    [
        (0, 10_000, 0),
        (7_949, 10_000, 79),  # 79.49 rounds down
        (7_950, 10_000, 80),  # 79.5 rounds half up
        (9_949, 10_000, 99),
        (9_950, 10_000, 100),
        (10_949, 10_000, 109),
        (10_950, 10_000, 110),
        (3_974_999, 5_000_000, 79),  # 79.49998
        (3_975_000, 5_000_000, 80),
        (1, 3, 33),
        (2, 3, 67),
        (1, 200, 1),  # 0.5 rounds up
        (50, 10_000, 1),
        (49, 10_000, 0),
    ],
)
def test_percent_rounds_half_up_without_float_error(usage, limit, percent):
    assert usage_percent(usage, limit) == percent


@pytest.mark.parametrize("limit", [None, 0, -5])
def test_percent_is_none_without_a_positive_limit(limit):
    assert usage_percent(100, limit) is None


@pytest.mark.parametrize(
    ("usage", "limit", "status"),
    [
        (7_949, 10_000, Status.OK),
        (7_950, 10_000, Status.WARNING),
        (9_949, 10_000, Status.WARNING),
        (9_950, 10_000, Status.SOFT_LIMIT),
        (10_949, 10_000, Status.SOFT_LIMIT),
        (10_950, 10_000, Status.HARD_LIMIT),
        (3_974_999, 5_000_000, Status.OK),
        (3_975_000, 5_000_000, Status.WARNING),
        (4_974_999, 5_000_000, Status.WARNING),
        (4_975_000, 5_000_000, Status.SOFT_LIMIT),
        (5_474_999, 5_000_000, Status.SOFT_LIMIT),
        (5_475_000, 5_000_000, Status.HARD_LIMIT),
        (10**12, None, Status.OK),
        (0, 0, Status.HARD_LIMIT),
        (0, -1, Status.HARD_LIMIT),
    ],
)
def test_status_boundaries(usage, limit, status):
    assert status_for(usage, limit) is status


def test_worst_prefers_the_first_on_a_tie():
    assert worst([Status.WARNING, Status.WARNING]) == 0
    assert worst([Status.OK, Status.SOFT_LIMIT]) == 1
    assert worst([Status.HARD_LIMIT, Status.SOFT_LIMIT]) == 0
    assert worst([]) is None
