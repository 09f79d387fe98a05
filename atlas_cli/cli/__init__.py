"""Typer apps, one module per command group: parse, call one service, render."""
