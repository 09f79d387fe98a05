#!/usr/bin/env bash
# Regenerate the shell completion scripts from the installed `atlas`.
set -euo pipefail
cd "$(dirname "$0")"
_ATLAS_COMPLETE=source_bash atlas > atlas.bash
_ATLAS_COMPLETE=source_zsh atlas > _atlas.zsh
_ATLAS_COMPLETE=source_fish atlas > atlas.fish
# The root help that `atlas --help` prints without importing Typer.
COLUMNS=80 python -c "import sys; sys.argv = ['atlas', '--help']; from atlas_cli.cli.main import app; app(prog_name='atlas')" \
    > ../atlas_cli/root_help.txt
# The built-in catalogs' TOML as parsed, which a command reads instead of parsing TOML.
python -m atlas_cli.catalogs
