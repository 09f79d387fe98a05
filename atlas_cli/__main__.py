"""`python -m atlas_cli`: the same as the `atlas` command."""

from atlas_cli.entry import run

run()
