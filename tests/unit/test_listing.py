"""The rules of `workspace list`: durations, `--status` (at least), sort keys."""

from __future__ import annotations

from datetime import timedelta

import pytest

from atlas_cli.domain.listing import at_least, parse_duration, parse_sort, parse_status
from atlas_cli.errors import BadInput


@pytest.mark.parametrize(
    ("text", "span"),
    [("3d", timedelta(days=3)), ("12h", timedelta(hours=12)), ("2w", timedelta(days=14)), (" 1D ", timedelta(days=1)),
     ("0d", timedelta(0))],
)  # fmt: skip
def test_durations(text, span):
    assert parse_duration(text, "--trial-ending") == span


@pytest.mark.parametrize("text", ["3", "d", "3m", "-1d", "1.5d", "", "3 days", "9999999d"])
def test_bad_durations(text):
    with pytest.raises(BadInput, match=r"--trial-ending: .* is not a duration"):
        parse_duration(text, "--trial-ending")


@pytest.mark.parametrize(
    ("status", "wanted", "kept"),
    [
        ("ok", "warning", False),
        ("warning", "warning", True),
        ("metered", "soft_limit", True),
        ("soft_limit", "metered", True),
        ("soft_limit", "hard_limit", False),
        ("hard_limit", "warning", True),
        ("trial_expired", "warning", True),  # blocked ranks with hard_limit
        ("trial_expired", "hard_limit", True),
        ("hard_limit", "trial_expired", False),  # a named block is exact
        ("subscription_required", "trial_expired", False),
        ("ok", "ok", True),
    ],
)
def test_at_least(status, wanted, kept):
    assert at_least(status, wanted) is kept


def test_status_and_sort_spellings():
    assert parse_status("soft") == "soft_limit" and parse_status("Hard") == "hard_limit"
    assert parse_status("trial-expired") == "trial_expired"
    assert parse_sort("trial_end") == "trial-end"
    with pytest.raises(BadInput):
        parse_status("blocked")
    with pytest.raises(BadInput):
        parse_sort("size")
