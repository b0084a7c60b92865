"""Printing shared by the commands, and the text of their one-line errors."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the error texts below are used where rich is not loaded
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


def first_line(err: BaseException) -> str:
    """An exception's message cut to its first line (its type's name when it has none), for
    a one-line error that quotes what a library raised."""
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
