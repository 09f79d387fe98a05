#!/usr/bin/env bash
# Regenerate the shell completion scripts from the installed `atlas`.
set -euo pipefail
cd "$(dirname "$0")"
_ATLAS_COMPLETE=source_bash atlas > atlas.bash
_ATLAS_COMPLETE=source_zsh atlas > _atlas.zsh
_ATLAS_COMPLETE=source_fish atlas > atlas.fish
