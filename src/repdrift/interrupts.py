"""Ctrl-C: in a command, one line saying what the stop left and how to go on (status 130);
in the worker processes of a pool, a clean stop that stores what was trained.

typer turns a ``KeyboardInterrupt`` that leaves a command into a silent exit status 130, so
each long-running command says itself what was kept::

    with on_interrupt(f"`repdrift resume {out}` continues the run"):
        ...

A pool's workers (:func:`init_worker`) stop at their first SIGINT — from the terminal,
which signals the whole process group, or forwarded by the parent
(:func:`interrupt_workers`) when only the parent was signalled — store their runs as
``partial`` (the simulation does that on ``KeyboardInterrupt``) and exit
(:func:`worker_stops`), instead of taking the next job of a pool that is being stopped.
They die with their parent, even after ``kill -9``, so that a resumed command never meets a
run still being written by an orphan.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Callable, Iterator

import typer
from rich.console import Console


@contextlib.contextmanager
def on_interrupt(then: str | Callable[[], str]) -> Iterator[None]:
    """On Ctrl-C print ``repdrift: interrupted; <then>`` on stderr and exit with 130.

    ``then`` may be a function, asked at the interrupt: what was kept can depend on when
    it came (a run not yet created cannot be resumed).
    """
    try:
        yield
    except KeyboardInterrupt:
        line = then() if callable(then) else then
        Console(stderr=True, highlight=False, soft_wrap=True).print(
            f"repdrift: interrupted; {line}", markup=False
        )
        raise typer.Exit(130) from None


def _die_with_parent() -> None:
    """Linux: have this process killed when its parent dies (no-op elsewhere)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)


def _interrupt_once(signum, frame) -> None:
    """A worker's first SIGINT stops its job; later ones (Ctrl-C reaches a worker from the
    terminal and again from its parent) must not disturb storing it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


def init_worker() -> None:
    """Set up a pool's worker process: it dies with its parent and stops at its first
    SIGINT (see the module docstring)."""
    _die_with_parent()
    signal.signal(signal.SIGINT, _interrupt_once)


@contextlib.contextmanager
def worker_stops() -> Iterator[None]:
    """Around a worker's job: after a Ctrl-C (the job has stored what it trained) the
    worker process ends at once rather than taking the pool's next job."""
    try:
        yield
    except KeyboardInterrupt:
        os._exit(130)


def interrupt_workers() -> None:
    """Forward a Ctrl-C to this process's worker processes (a signal to the parent alone,
    ``kill -INT``, does not reach them)."""
    import multiprocessing as mp

    for child in mp.active_children():
        with contextlib.suppress(ProcessLookupError):
            os.kill(child.pid, signal.SIGINT)
