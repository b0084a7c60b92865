"""Printing shared by the commands."""

from __future__ import annotations

from rich.console import Console


def print_listing_line(console: Console, markup: str) -> None:
    """Print one entry of a listing (``repdrift presets``, ``repdrift sweep presets``) on one
    line: cut with an ellipsis to a terminal's width, whole into a pipe or a file, where a
    script reads it."""
    console.print(
        markup,
        no_wrap=True,
        overflow="ellipsis" if console.is_terminal else "ignore",
        crop=console.is_terminal,
    )
