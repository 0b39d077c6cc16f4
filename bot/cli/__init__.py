"""The `cadrebot` command line (Typer + Rich)."""
