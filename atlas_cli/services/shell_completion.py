"""`atlas completion install`: the completion script written where the shell loads it, and the one
line a shell's startup file needs to load it (bash, zsh; fish loads its directory by itself).

Running it again changes nothing: the script is rewritten only when it differs, and the startup
line is added once (or corrected in place when the script moved).
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from atlas_cli.errors import BadInput

SHELLS = ("bash", "zsh", "fish")
MARKER = "# atlas shell completion"


@dataclass(frozen=True)
class Installed:
    shell: str
    script: Path
    script_changed: bool
    startup_file: Path | None  # None: the shell loads the script's directory itself (fish)
    startup_changed: bool

    @property
    def changed(self) -> bool:
        return self.script_changed or self.startup_changed


def detect_shell(environ: Mapping[str, str]) -> str:
    """The shell named by $SHELL.

    Raises:
        BadInput: $SHELL is unset or names another shell.
    """
    name = Path(environ.get("SHELL", "")).name
    if name not in SHELLS:
        shown = repr(name) if name else "unset"
        raise BadInput(f"cannot tell the shell ($SHELL is {shown}); name it: atlas completion install bash|zsh|fish")
    return name


def _locations(shell: str, home: Path, environ: Mapping[str, str]) -> tuple[Path, Path | None, str | None]:
    """Where the script goes, the startup file that loads it, and the line that does."""
    if shell == "fish":
        config = Path(environ.get("XDG_CONFIG_HOME") or home / ".config")
        return config / "fish" / "completions" / "atlas.fish", None, None
    if shell == "bash":
        data = Path(environ.get("XDG_DATA_HOME") or home / ".local" / "share")
        script = data / "bash-completion" / "completions" / "atlas"
        quoted = shlex.quote(str(script))
        return script, home / ".bashrc", f"[ -f {quoted} ] && . {quoted}  {MARKER}"
    zdotdir = Path(environ.get("ZDOTDIR") or home)
    script = zdotdir / ".zfunc" / "_atlas"
    quoted = shlex.quote(str(script))
    # the script registers itself with compdef, which compinit defines
    load = "(( $+functions[compdef] )) || { autoload -Uz compinit && compinit; }"
    return script, zdotdir / ".zshrc", f"{load}; [ -f {quoted} ] && source {quoted}  {MARKER}"


def install(shell: str, script_text: str, *, home: Path, environ: Mapping[str, str] | None = None) -> Installed:
    """Writes `script_text` where `shell` finds it and makes its startup file load it.

    Raises:
        BadInput: a shell atlas has no completion for, or a file that cannot be written.
    """
    if shell not in SHELLS:
        raise BadInput(f"no completion for {shell!r}; use bash, zsh or fish")
    script, startup, line = _locations(shell, home, os.environ if environ is None else environ)
    try:
        script_changed = _write_if_changed(script, script_text)
        startup_changed = _ensure_line(startup, line) if startup is not None and line is not None else False
    except OSError as exc:
        raise BadInput(f"cannot write {exc.filename}: {exc.strerror}") from None
    return Installed(shell, script, script_changed, startup, startup_changed)


def _write_if_changed(path: Path, text: str) -> bool:
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return True


def _ensure_line(path: Path, line: str) -> bool:
    """Adds `line` to `path` once; a line of an earlier install (same marker) is replaced."""
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    lines = text.splitlines()
    if line in lines:
        return False
    ours = [i for i, existing in enumerate(lines) if existing.rstrip().endswith(MARKER)]
    if ours:
        lines[ours[0]] = line
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return True
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        out.write(("" if not text or text.endswith("\n") else "\n") + line + "\n")
    return True
