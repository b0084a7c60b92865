"""``repdrift reproduce FIGURE... --scale quick|paper --out DIR``.

Makes the figures (``fig2``, ``fig3``, ``fig4``, ``fig5``, ``s1``, ``s2``, ``table1`` or
``all``) and ends with the claims report (``DIR/claims.html``, ``DIR/claims.json``).
Running it again on the same ``DIR`` and scale continues where it stopped. Exit status 0
on success; 2 for an unknown figure or scale, an ``--out`` that holds something else, or
a ``--scheduler`` where no scheduler answers (one line on stderr, nothing written); 1
when a run, sweep or figure failed (the report still says what was checked).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from repdrift.interrupts import on_interrupt
from repdrift.progress import Progress
from repdrift.terminal import int_option, path_parser

err_console = Console(stderr=True, highlight=False, soft_wrap=True)


class RichReporter:
    """One progress line per run, sweep, analysis and figure (rich, on stderr).

    Every method of :class:`repdrift.experiments.jobs.Reporter`, without importing that
    module (and the store's xarray and Zarr with it) when the command starts.
    """

    def __init__(self, progress: Progress):
        self.progress = progress
        self.tasks: dict[str, int] = {}

    def start(self, key: str, description: str, total: int | None) -> None:
        # The display starts with the first job: rich prints a line when it stops (an empty
        # one where stderr is not a terminal), so an error found before any job ran would
        # otherwise not be stderr's one line.
        if not self.progress.live.is_started:
            self.progress.start()
        self.tasks[key] = self.progress.add_task(description, total=total, status="")

    def update(self, key: str, completed: int) -> None:
        if key in self.tasks:
            self.progress.update(self.tasks[key], completed=completed)

    def finish(self, key: str, message: str) -> None:
        if key not in self.tasks:
            return
        task = self.tasks[key]
        total = self.progress.tasks[task].total
        if total is None:
            self.progress.update(task, total=1, completed=1, status=message)
        else:
            self.progress.update(task, completed=total, status=message)

    def note(self, text: str) -> None:
        self.progress.console.print(text, markup=False)


def _fail(message: str, code: int = 2) -> typer.Exit:
    err_console.print(f"repdrift: error: {' '.join(str(message).split())}", markup=False)
    return typer.Exit(code)


def reproduce(
    figures: Annotated[
        list[str],
        typer.Argument(help="fig2, fig3, fig4, fig5, s1, s2, table1, or all"),
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out", parser=path_parser, help="directory for runs, figures and the report"
        ),
    ],
    scale: Annotated[
        str,
        typer.Option(
            help="quick (≤ 45 min on 2 CPU cores), paper (published sizes; GPU or "
            "cluster) or smoke (minutes: the machinery, not the science)"
        ),
    ] = "quick",
    data: Annotated[
        Path | None,
        typer.Option(
            help="folder of recorded data (multiple_maps, si_bias); default "
            "$REPDRIFT_DATA, else shared/data or ../shared/data (the first that exists)"
        ),
    ] = None,
    workers: Annotated[
        int | None, int_option(min=1, help="worker processes (default: one per core)")
    ] = None,
    scheduler: Annotated[
        str | None, typer.Option(help="Dask scheduler address for the sweeps (paper scale)")
    ] = None,
    quiet: Annotated[bool, typer.Option(help="no progress display")] = False,
) -> None:
    """Reproduce the paper's figures and check its claims (DIR/claims.html, claims.json)."""
    from repdrift import experiments
    from repdrift.experiments.workspace import ReproduceError, check_scale
    from repdrift.sweep.executor import connected

    try:
        experiments.figures_of(figures)
        check_scale(scale)
    except ReproduceError as err:
        raise _fail(str(err)) from None
    if data is not None and not data.is_dir():
        # named on purpose: a mistyped folder must not leave Fig. 3's claims unchecked
        raise _fail(f"--data {data} does not exist or is not a folder")
    if data is not None and "fig3" in experiments.figures_of(figures):
        from repdrift.experiments import fig3

        wanted = fig3.SMOKE_DATASETS if scale == "smoke" else fig3.DATASETS
        if not any((data / sub).exists() for sub in wanted.values()):
            raise _fail(
                f"--data {data} holds none of Fig. 3's recorded data ("
                + ", ".join(str(sub) for sub in wanted.values())
                + ")"
            )
    started = time.monotonic()
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[status]}"),
        console=err_console,
        transient=False,
        disable=quiet,
    )
    try:
        # The check of `repdrift sweep run --scheduler`: an address that is not a
        # scheduler's, or one where none answers, is refused (SweepError, one line) before
        # anything is written, whether or not the figures need a sweep. The one client
        # then serves every sweep.
        with (
            on_interrupt("the same command continues where it stopped"),
            connected(scheduler) as client,
        ):
            try:
                summary = experiments.reproduce(
                    figures,
                    scale=scale,
                    out=out,
                    data_dir=data,
                    workers=workers,
                    scheduler=client,
                    reporter=RichReporter(progress),
                )
            finally:
                if progress.live.is_started:
                    progress.stop()
    except ReproduceError as err:
        raise _fail(str(err)) from None
    except experiments.ReproduceFailure as err:
        raise _fail(str(err), code=1) from None
    counts: dict[str, int] = {}
    for claim in summary["claims"]:
        counts[claim["verdict"]] = counts.get(claim["verdict"], 0) + 1
    shown = ", ".join(f"{n} {v}" for v, n in counts.items())
    err_console.print(
        f"{out}: claims {shown}; report {summary['html']} ({time.monotonic() - started:,.0f} s)",
        markup=False,
    )
