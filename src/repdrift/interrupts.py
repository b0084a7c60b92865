"""Ctrl-C in a command: one line saying what the stop left and how to go on, status 130.

typer turns a ``KeyboardInterrupt`` that leaves a command into a silent exit status 130, so
each long-running command says itself what was kept::

    with on_interrupt(f"`repdrift resume {out}` continues the run"):
        ...
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import typer
from rich.console import Console


@contextlib.contextmanager
def on_interrupt(then: str) -> Iterator[None]:
    """On Ctrl-C print ``repdrift: interrupted; <then>`` on stderr and exit with 130."""
    try:
        yield
    except KeyboardInterrupt:
        Console(stderr=True, highlight=False, soft_wrap=True).print(
            f"repdrift: interrupted; {then}", markup=False
        )
        raise typer.Exit(130) from None
