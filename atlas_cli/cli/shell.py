"""`atlas completion`: install shell completion (commands, options, their values, workspace slugs
and context names) for bash, zsh or fish."""

from __future__ import annotations

from typing import Annotated

import typer

from atlas_cli.cli.choices import Shell
from atlas_cli.cli.options import FormatOpt, JsonOpt
from atlas_cli.cli.runtime import Runtime

app = typer.Typer(help="Shell completion for bash, zsh and fish.", no_args_is_help=True)

ShellArg = Annotated[
    Shell | None,
    typer.Argument(help="bash, zsh or fish [default: the shell named by $SHELL].", show_default=False),
]


def script_for(ctx: typer.Context, shell: str) -> str:
    """The completion script of `shell`, exactly as `_ATLAS_COMPLETE=source_<shell> atlas` prints it
    (Typer's completion classes, through its vendored Click)."""
    from typer._click.shell_completion import get_completion_class
    from typer._completion_classes import completion_init

    completion_init()
    complete = get_completion_class(shell)
    if complete is None:  # pragma: no cover - the three shells are Typer's own
        raise typer.Exit(code=1)
    return complete(ctx.find_root().command, {}, "atlas", "_ATLAS_COMPLETE").source() + "\n"


def _shell(rt: Runtime, shell: str | None) -> str:
    import os

    from atlas_cli.services.shell_completion import detect_shell

    with rt.errors():
        return shell or detect_shell(os.environ)


@app.command("install")
def install(ctx: typer.Context, shell: ShellArg = None, fmt: FormatOpt = None, as_json: JsonOpt = False) -> None:
    """Install completion where the shell loads it; running it again changes nothing.

    bash: the script in ~/.local/share/bash-completion/completions, loaded from ~/.bashrc;
    zsh: ~/.zfunc/_atlas, loaded from ~/.zshrc; fish: ~/.config/fish/completions/atlas.fish.

    Examples:
        atlas completion install
        atlas completion install zsh
    """
    rt: Runtime = ctx.obj
    from pathlib import Path

    from atlas_cli.services.shell_completion import install as install_script

    chosen = _shell(rt, shell)
    with rt.errors():
        result = install_script(chosen, script_for(ctx, chosen), home=Path.home())
    rt.render.completion_installed(result, rt.output_format(fmt, as_json))


@app.command("script")
def script(ctx: typer.Context, shell: ShellArg = None) -> None:
    """Print the completion script, to install it by hand.

    Examples:
        atlas completion script bash > /etc/bash_completion.d/atlas
    """
    rt: Runtime = ctx.obj
    typer.echo(script_for(ctx, _shell(rt, shell)), nl=False)
