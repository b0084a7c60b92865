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
from typing import NoReturn

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
        _say(f"repdrift: interrupted; {line}")
        raise typer.Exit(130) from None


#: Whether a command has said what a Ctrl-C kept (:func:`on_interrupt`).
_said = False

#: Whether a Ctrl-C has come (to a process that :func:`catch_interrupts` set up, or to a
#: pool's worker).
_pending = False


#: Whether the stop came as SIGTERM (``kill``, a batch scheduler's time limit): the
#: command then exits with 143, not 130.
_terminated = False


def _interrupt(signum, frame) -> None:
    global _pending, _terminated
    _pending = True
    _terminated = _terminated or signum == signal.SIGTERM
    raise KeyboardInterrupt


def stop_status() -> int:
    """The exit status of a command stopped by a signal: 143 after SIGTERM, else 130."""
    return 143 if _terminated else 130


def _quiet_lost_interrupts(unraisable) -> None:
    # A KeyboardInterrupt raised inside a callback whose exceptions Python ignores (JAX's
    # garbage-collection hook) is lost, not raised; :func:`raise_if_interrupted` raises it
    # again, so the traceback Python would print of it is noise.
    if not isinstance(unraisable.exc_value, KeyboardInterrupt):
        sys.__unraisablehook__(unraisable)


def catch_interrupts() -> None:
    """Set up this process (the command line's) so that no Ctrl-C is lost.

    Python raises a Ctrl-C as a ``KeyboardInterrupt`` wherever the main thread is; when
    that is a callback whose exceptions it ignores — JAX's garbage-collection hook, which
    runs often while a run is set up and compiled — the interrupt was lost and the run
    went on to its end. The handler installed here also notes the Ctrl-C, and the
    simulation's loop asks :func:`raise_if_interrupted` before it writes anything and
    between compiled calls. A process started with Ctrl-C ignored (``repdrift ... &`` from
    a script) keeps ignoring it.

    SIGTERM (``kill``; a batch scheduler at the end of a job's time) stops the command as
    Ctrl-C does, so a run stores what it trained since its last checkpoint, and the
    command exits with 143 (:func:`stop_status`).
    """
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _interrupt)
        sys.unraisablehook = _quiet_lost_interrupts
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _interrupt)
        sys.unraisablehook = _quiet_lost_interrupts


def raise_if_interrupted() -> None:
    """Raise ``KeyboardInterrupt`` if a Ctrl-C came and was lost (see
    :func:`catch_interrupts`); nothing in a process that did not set that up."""
    if _pending:
        raise KeyboardInterrupt


def _say(line: str) -> None:
    global _said
    Console(stderr=True, highlight=False, soft_wrap=True).print(line, markup=False)
    _said = True


def start_command() -> None:
    """A command starts: it has said nothing of a Ctrl-C (the command line may run more
    than one command in one process: the tests)."""
    global _said
    _said = False


def say_interrupted() -> None:
    """Say ``repdrift: interrupted`` unless the command has said what the Ctrl-C kept."""
    if not _said:
        _say("repdrift: interrupted")


def exit_now(code: int) -> NoReturn:
    """End the process: run the exit handlers, flush the output, and exit without tearing
    the interpreter down (the ``repdrift`` command after a Ctrl-C).

    A Ctrl-C that lands while JAX traces or compiles leaves XLA objects that crashed the
    interpreter's teardown (a segmentation fault, status −11, in about one interrupt in
    three during compilation), after the line saying what was kept had been printed.
    Everything this package writes is closed by then; its exit handlers (the temporary
    compilation cache, the store's I/O thread) still run.
    """
    import atexit

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


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
    global _pending
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _pending = True
    raise KeyboardInterrupt


def init_worker() -> None:
    """Set up a pool's worker process: it dies with its parent and stops at its first
    SIGINT (see the module docstring).

    A worker started in :func:`workers_start_deaf` has SIGINT blocked until here: a Ctrl-C
    while it started up (seconds of imports) is held, and ends it now, quietly."""
    _die_with_parent()
    signal.signal(signal.SIGINT, _interrupt_once)
    if not hasattr(signal, "pthread_sigmask"):  # (Windows: nothing was blocked)
        return
    try:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    except KeyboardInterrupt:  # the Ctrl-C held while it started: no job was taken
        os._exit(130)


@contextlib.contextmanager
def workers_start_deaf() -> Iterator[None]:
    """Around starting a pool's worker processes: SIGINT is blocked in this process, and
    so in the workers it starts, until each reaches :func:`init_worker`. Without it, a
    Ctrl-C while they import printed a traceback from each. A Ctrl-C to this process
    meanwhile is held, and raised when the block ends."""
    if not hasattr(signal, "pthread_sigmask"):  # Windows
        yield
        return
    before = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


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
