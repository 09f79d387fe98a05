"""A BYOT workspace's tokens are metered but their limit is not enforced: the output says so."""

import pytest

from tests import factories
from tests.factories import NOW


@pytest.fixture
def byot(atlas, atlas_db):
    with atlas_db.begin() as conn:
        factories.workspace(conn, "stark", byot=True)
        factories.workspace(conn, "acme")
        for ws in ("stark", "acme"):
            factories.events(conn, ws, [("token", 6_000_000, NOW, None)])
    return atlas


def tokens_line(text):
    return next(line for line in text.splitlines() if "Tokens" in line or "tokens:" in line)


@pytest.mark.parametrize("args", [("usage", "show"), ("billing", "status"), ("billing", "check")])
def test_tables_say_the_token_limit_is_not_enforced(byot, args):
    result = byot(*args, "-w", "stark")
    assert result.exit_code == 0, result.output
    line = tokens_line(result.stdout)
    assert "not enforced" in line and "BYOT" in line and "hard_limit" not in line
    enforced = byot(*args, "-w", "acme")
    assert "hard_limit" in tokens_line(enforced.stdout) and "not enforced" not in enforced.stdout


def test_not_enforced_is_not_drawn_red(byot, monkeypatch):
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("TERM", "xterm-256color")
    stark = tokens_line(byot("usage", "show", "-w", "stark").stdout)
    acme = tokens_line(byot("usage", "show", "-w", "acme").stdout)
    assert "\x1b[31m" in acme and "\x1b[31m" not in stark


def test_json_keeps_the_api_keys_and_adds_enforced(byot):
    status = byot.json("billing", "status", "-w", "stark")["usage"]
    assert status["tokenOverageStatus"] == "hard_limit" and status["tokenLimitEnforced"] is False
    assert byot.json("billing", "status", "-w", "acme")["usage"]["tokenLimitEnforced"] is True
    assert byot.json("usage", "show", "-w", "stark")["tokenLimitEnforced"] is False
    assert byot.json("usage", "show", "-w", "acme", code=0)["tokenLimitEnforced"] is True
