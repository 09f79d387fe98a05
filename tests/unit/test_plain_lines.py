"""On a stdout that shows no styles, lines of text are written without Rich: byte for byte what
Rich's console writes there, whatever the text (control characters, wide characters, long lines,
trailing spaces)."""

import io

import pytest

from atlas_cli.render.base import Output, PlainLines, stdout_shows_styles
from atlas_cli.render.console import SafeConsole

TEXTS = [
    "allowed · ok · Usage is within the plan's limits.",
    "  queries: 1,234 / 10,000 (12%) ok",
    "",
    "x" * 200,
    "wide 漢字 and emoji 🎉 :smile: [bold]not markup[/bold]",
    "tab\there, bell\x07, escape \x1b[31m, carriage\rreturn, newline\nin the middle",
    "bidi \u202e override and C1 \x9b",
    "trailing spaces   ",
    "a long line ending in a space " + "y" * 100 + " ",
    "no-break space at the end\u00a0",
]


def _rich(text, console_kwargs):
    file = io.StringIO()
    console = SafeConsole(file=file, markup=False, highlight=False, emoji=False, soft_wrap=True, **console_kwargs)
    console.print(text)
    return file.getvalue()


@pytest.mark.parametrize("text", TEXTS)
def test_a_line_is_what_rich_writes_on_a_pipe(text, capsys):
    made = []
    lines = PlainLines(
        lambda: made.append(1) or SafeConsole(markup=False, highlight=False, emoji=False, soft_wrap=True)
    )
    lines.print(text)
    assert capsys.readouterr().out == _rich(text, {})


def test_the_verdict_line_is_written_plain_only_when_rich_would_write_it_unchanged(capsys, monkeypatch):
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    out = Output()
    assert out.plain_line("allowed · ok · fine")
    assert not out.plain_line("blocked · hard_limit · a name with \x1b[2J")
    assert not out.plain_line("ends with a space ")
    assert capsys.readouterr().out == "allowed · ok · fine\n"


@pytest.mark.parametrize(("env", "shows"), [({}, False), ({"FORCE_COLOR": "1"}, True), ({"TTY_COMPATIBLE": "1"}, True)])
def test_styles_show_where_rich_would_style(monkeypatch, env, shows):
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr("sys.stdout", io.StringIO())
    assert stdout_shows_styles() is shows
    assert isinstance(Output().out, PlainLines) is not shows
