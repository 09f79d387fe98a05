"""Ingest progress: events/s and, for a file, the time left; on stderr, and only on a terminal."""

from __future__ import annotations

import io
import sys

import pytest

from atlas_cli.render import Renderer
from atlas_cli.render.events import ingest_progress_text


def test_a_file_shows_events_per_second_how_far_and_the_time_left() -> None:
    assert ingest_progress_text(12_000, 4_000_000, 10_000_000, 2.0) == (
        "12,000 events · 6,000 events/s · 40% · 0:00:03 left"
    )
    assert ingest_progress_text(0, 0, 10_000_000, 0.0) == "0 events · 0 events/s · 0% · time left unknown"
    assert ingest_progress_text(9, 10, 10, 1.0).endswith("100% · 0:00:00 left")


def test_a_stream_shows_events_per_second_and_what_was_read() -> None:
    assert ingest_progress_text(5_000, 1_250_000, None, 2.0) == "5,000 events · 2,500 events/s · 1.2 MB read"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_drawn_on_stderr_when_it_is_a_terminal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    terminal = Terminal()
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setattr(sys, "stderr", terminal)
    with Renderer(no_color=True).ingest_progress() as progress:
        assert progress is not None
        progress(500, 1000, 42)
        progress(1000, 1000, 84)
    assert "84 events" in terminal.getvalue() and "events/s" in terminal.getvalue()
    assert "left" in terminal.getvalue()
    assert capsys.readouterr().out == ""


def test_no_progress_when_stderr_is_not_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    with Renderer(no_color=True).ingest_progress() as progress:
        assert progress is None
    assert capsys.readouterr() == ("", "")
