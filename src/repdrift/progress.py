"""The commands' progress display, on a terminal and in a log.

rich redraws a progress display in place on a terminal; into a file or a pipe (a batch
job's log, ``nohup``, a cluster's output file) it shows nothing until the display stops,
so a sweep of many hours would say nothing of itself until its end, and then draw its
bar wrapped over several lines. :class:`Progress` is rich's display, which there prints
every :data:`LOG_EVERY_S` seconds one plain line for each task that moved on since it was
last printed (and for every unfinished task when nothing was printed for ten such
intervals), a task that finished once, and the last state of each when it stops: the
same columns as on a terminal, without the bar.

Its time-remaining estimates take the speed over the last :data:`SPEED_WINDOW_S` seconds
of progress instead of rich's 30: a sweep's progress comes in jumps (each batch reports
after a chunk of its steps, and a batch's end — snapshots, spectra, the store — reports
none), and over 30 s the estimate of a 20-minute `table2-quick` sweep swung from 9 minutes
to 2 h 20 and back within a minute.
"""

from __future__ import annotations

import math
import os
import threading

from rich.progress import BarColumn
from rich.progress import Progress as _RichProgress
from rich.text import Text

#: Seconds between progress lines in a log (``$REPDRIFT_LOG_EVERY`` overrides it).
LOG_EVERY_S = 60.0
LOG_EVERY_ENV = "REPDRIFT_LOG_EVERY"
#: Intervals without a line after which every unfinished task is printed again.
HEARTBEAT_TICKS = 10
#: Seconds of progress the speed behind a time-remaining estimate is taken over.
SPEED_WINDOW_S = 120.0


def log_every() -> float:
    """Seconds between progress lines in a log: ``$REPDRIFT_LOG_EVERY``, else 60 (also
    where it is no positive number of seconds: :func:`log_every_note` says so)."""
    return _log_every()[0]


def log_every_note() -> str | None:
    """The note for a ``$REPDRIFT_LOG_EVERY`` that is set but no positive number of
    seconds, else ``None``."""
    return _log_every()[1]


def _log_every() -> tuple[float, str | None]:
    text = os.environ.get(LOG_EVERY_ENV, "").strip()
    if not text:
        return LOG_EVERY_S, None
    try:
        every = float(text)
    except ValueError:
        every = math.nan
    if every > 0 and math.isfinite(every):
        return every, None
    return LOG_EVERY_S, (
        f"repdrift: note: ${LOG_EVERY_ENV}={text!r} is not a positive number of seconds; "
        f"progress lines come every {LOG_EVERY_S:g} s"
    )


class Progress(_RichProgress):
    """rich's progress display that, where its console is no terminal, prints lines (see
    the module) every ``every`` seconds (default :func:`log_every`) and when it stops,
    instead of rich's drawing; its speeds are taken over :data:`SPEED_WINDOW_S`."""

    def __init__(self, *columns, every: float | None = None, **kwargs) -> None:
        kwargs.setdefault("speed_estimate_period", SPEED_WINDOW_S)
        super().__init__(*columns, **kwargs)
        self._every = log_every() if every is None else every
        self._stopping = threading.Event()
        self._logger: threading.Thread | None = None
        self._said: dict[int, tuple[float, bool]] = {}  # task: (completed, finished)
        self._quiet_ticks = 0
        self._logging = not (self.disable or self.console.is_terminal or self.console.is_jupyter)
        if self._logging:
            self.live.transient = True  # its last drawing: lines, by stop()
            if every is None and (note := log_every_note()):
                self.console.print(note, markup=False, soft_wrap=True)

    def start(self) -> None:
        super().start()
        if not self._logging or self._logger is not None:
            return
        self._stopping.clear()
        self._logger = threading.Thread(
            target=self._log_lines, name="repdrift-progress-log", daemon=True
        )
        self._logger.start()

    def stop(self) -> None:
        started = self.live.is_started
        if self._logger is not None:
            self._stopping.set()
            self._logger.join()
            self._logger = None
        if self.disable:
            return  # rich before 14.3 prints an empty line on stop() even when disabled
        if not self._logging:
            super().stop()
            return
        self.live.stop()  # rich's stop() would add an empty line to the log
        if started:
            self._print_lines()

    def _log_lines(self) -> None:
        while not self._stopping.wait(self._every):
            self.tick()

    def tick(self) -> None:
        """Print one interval's lines (what the display does every ``every`` seconds)."""
        self._print_lines(heartbeat=self._quiet_ticks >= HEARTBEAT_TICKS - 1)

    def _print_lines(self, heartbeat: bool = True) -> None:
        lines = self.lines(heartbeat)
        self._quiet_ticks = 0 if lines else self._quiet_ticks + 1
        for line in lines:
            self.console.print(line, markup=False, highlight=False, soft_wrap=True)

    def lines(self, unfinished: bool = True) -> list[str]:
        """One line of its columns' text, without the bar, for each visible task that moved
        on or finished since it was last in these lines (and, with ``unfinished``, each
        unfinished one)."""
        with self._lock:
            tasks = [
                t
                for t in self.tasks
                if t.visible
                and (
                    self._said.get(t.id) != (t.completed, t.finished)
                    or (unfinished and not t.finished)
                )
            ]
            self._said.update({t.id: (t.completed, t.finished) for t in tasks})
        lines = []
        for task in tasks:
            parts = []
            for column in self.columns:
                if isinstance(column, BarColumn):
                    continue
                shown = column.format(task=task) if isinstance(column, str) else column(task)
                text = Text.from_markup(shown) if isinstance(shown, str) else shown
                plain = text.plain.strip() if isinstance(text, Text) else ""
                if plain:
                    parts.append(plain)
            lines.append("  ".join(parts))
        return lines
