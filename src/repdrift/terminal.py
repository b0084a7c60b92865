"""Printing shared by the commands, and the text of their one-line errors."""

from __future__ import annotations

import re
from pathlib import Path
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


def int_option(*param_decls: str, min: int | None = None, max: int | None = None, **kwargs):
    """``typer.Option`` for an integer flag that takes a decimal integer and nothing else.

    typer reads an ``int`` flag through pydantic's lax mode, which turns ``50.0`` into 50;
    the configuration itself refuses that, and so must the flags that override it. typer
    checks no range on a flag with its own parser, so the range is checked here; ``min`` and
    ``max`` still go to ``typer.Option``, where ``--help`` shows them."""
    import typer

    def parse(value: object) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            number = value  # a default, or a value given from Python
        elif isinstance(value, str) and re.fullmatch(r"\s*[+-]?[0-9]+\s*", value):
            number = int(value)
        else:
            raise typer.BadParameter(f"{str(value)!r} is not a valid integer")
        if min is not None and number < min:
            raise typer.BadParameter(f"{number} is below the least allowed, {min}")
        if max is not None and number > max:
            raise typer.BadParameter(f"{number} is above the most allowed, {max:,}")
        return number

    parse.__name__ = "integer"  # the metavar of typer releases that name a parser after it
    return typer.Option(*param_decls, parser=parse, min=min, max=max, **kwargs)


def path_parser(value: object) -> Path:
    """typer's parser for a path argument or flag: any path but an empty one.

    pathlib reads ``""`` as the current folder, so ``--out "$DIR"`` with ``DIR`` unset would
    write into (or read) whatever folder the command was started in. It is refused as bad
    input instead (exit status 2)."""
    if isinstance(value, Path):
        return value  # a default, or a value given from Python
    import typer

    text = str(value)
    if not text:
        raise typer.BadParameter("an empty path; name a file or a folder")
    return Path(text)


path_parser.__name__ = "path"  # the metavar of typer releases that name a parser after it
