"""``repdrift sweep``: run a sweep, resume it, inspect its table.

::

    repdrift sweep SPEC --out DIR [--workers N] [--scheduler ADDRESS] [--set path=value]...
                   [--snapshot-threads T]
    repdrift sweep --preset NAME --out DIR
    repdrift sweep resume DIR [--workers N] [--scheduler ADDRESS] [--snapshot-threads T]
                          [--repair]
    repdrift sweep inspect DIR [--json]
    repdrift sweep compare DIR_A DIR_B [--alpha A] [--min-runs N] [--json]
    repdrift sweep presets
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    ProgressColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from repdrift.interrupts import on_interrupt
from repdrift.progress import Progress
from repdrift.terminal import int_option, path_parser, print_listing_line

err_console = Console(stderr=True, highlight=False, soft_wrap=True)
console = Console(highlight=False)


class _RunByDefault(TyperGroup):
    """``repdrift sweep SPEC ...`` means ``repdrift sweep run SPEC ...``."""

    def parse_args(self, ctx, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_RunByDefault,
    help="Many runs from one specification, batched and resumable, into one table "
    "(DIR/runs.parquet). `repdrift sweep SPEC --out DIR` runs the spec SPEC.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


class _Runs(ProgressColumn):
    def render(self, task) -> Text:
        done, total = task.fields.get("runs", 0), task.fields.get("runs_total", 0)
        return Text(f"{done:,}/{total:,} runs", style="cyan")


def _progress_bar(quiet: bool):
    if quiet:
        return None, None
    bar = Progress(
        TextColumn("[bold]sweep"),
        BarColumn(),
        TaskProgressColumn(),
        _Runs(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=err_console,
        transient=False,
    )
    state = {"task": None}

    def update(p) -> None:
        if state["task"] is None:  # shown once the sweep runs: an error before is one line
            bar.start()
            state["task"] = bar.add_task("sweep", total=max(p.run_steps_total, 1))
        bar.update(
            state["task"],
            completed=p.run_steps_done,
            runs=p.runs_finished,
            runs_total=p.runs_total,
        )

    return bar, update


def _execute(
    sweep, workers, scheduler, quiet: bool, snapshot_threads: int, repair: bool = False
) -> None:
    from repdrift.sweep.executor import moved_note, run_sweep
    from repdrift.sweep.table import STATUSES

    bar, update = _progress_bar(quiet)
    started = time.monotonic()
    options = {
        "workers": workers,
        "scheduler": scheduler,
        "snapshot_threads": snapshot_threads,
        "repair": repair,
    }
    with on_interrupt(f"`repdrift sweep resume {sweep.path}` continues the sweep"):
        try:
            result = run_sweep(sweep, progress=update, **options)
        finally:
            if bar is not None and bar.live.is_started:
                bar.stop()
    for rid, (why, where) in result.set_aside.items():
        err_console.print(f"repdrift: {rid} was run again: {why} (kept in {where})", markup=False)
    if note := moved_note(result.moved):
        err_console.print(f"repdrift: note: {sweep.path}: {note}", markup=False)
    counts = result.table["status"].value_counts()
    shown = ", ".join(f"{int(counts[s])} {s}" for s in STATUSES if s in counts)
    err_console.print(
        f"{sweep.path}: {len(result.table)} runs ({shown}) in "
        f"{time.monotonic() - started:,.0f} s; table {sweep.table_path}",
        markup=False,
    )
    if result.failed:
        for index, message in sorted(result.failed.items()):
            err_console.print(f"repdrift: batch {index} failed: {message}", markup=False)
        err_console.print(
            f"repdrift: {len(result.failed)} of {result.batches} batches failed; "
            f"`repdrift sweep resume {sweep.path}` retries them",
            markup=False,
        )
        raise typer.Exit(1)


#: Options of both ``run`` and ``resume``.
Workers = Annotated[
    int | None, int_option(min=1, help="local worker processes (default: one per core)")
]
Scheduler = Annotated[str | None, typer.Option(help="Dask scheduler address, e.g. tcp://host:8786")]
SnapshotThreads = Annotated[
    int,
    int_option(
        min=1,
        help="threads of each worker measuring its runs' snapshots (Hessian spectra) at "
        "once; with a GPU training, workers x threads up to the host's cores",
    ),
]


@app.command("run")
def run_command(
    spec: Annotated[
        Path | None, typer.Argument(parser=path_parser, help="a sweep spec (TOML)")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", parser=path_parser, help="sweep directory to create")
    ] = None,
    preset: Annotated[
        str | None, typer.Option(help="a shipped sweep preset, e.g. sweep-smoke")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="override a field of every run: section.field=value"),
    ] = None,
    workers: Workers = None,
    scheduler: Scheduler = None,
    snapshot_threads: SnapshotThreads = 1,
    batch_size: Annotated[
        int, int_option(min=1, help="most runs per batch (fixed when the sweep is created)")
    ] = 32,
    quiet: Annotated[bool, typer.Option(help="no progress bar")] = False,
) -> None:
    """Expand SPEC (or --preset) into runs and run them into OUT."""
    from repdrift import sweep as sweep_api
    from repdrift.sweep.executor import connected
    from repdrift.sweep.spec import SweepError, preset_names

    if out is None:
        raise SweepError("give --out DIR, the sweep directory to create")
    if (spec is None) == (preset is None):
        raise SweepError(
            "give a sweep spec file or --preset NAME, one of them "
            f"(presets: {', '.join(preset_names())})"
        )
    with connected(scheduler) as client:  # an unreachable scheduler: nothing written
        sweep = sweep_api.create(
            spec, out=out, preset=preset, overrides=set_ or [], batch_size=batch_size
        )
        if not quiet:
            err_console.print(
                f"sweep {sweep.name!r}: {len(sweep.runs):,} runs into {sweep.path}",
                markup=False,
            )
        _execute(sweep, workers, client, quiet, snapshot_threads)


@app.command("resume")
def resume_command(
    sweep_dir: Annotated[Path, typer.Argument(parser=path_parser, help="a sweep directory")],
    workers: Workers = None,
    scheduler: Scheduler = None,
    snapshot_threads: SnapshotThreads = 1,
    quiet: Annotated[bool, typer.Option(help="no progress bar")] = False,
    repair: Annotated[
        bool,
        typer.Option(
            help="read every stored run whole; move those that cannot be read to "
            "DIR/damaged/ and run them again; rewrite wrong summaries; rebuild the time courses"
        ),
    ] = False,
) -> None:
    """Finish a stopped sweep: stopped runs continue, finished runs are not run again."""
    from repdrift.sweep.directory import open_sweep
    from repdrift.sweep.executor import connected

    sweep = open_sweep(sweep_dir)
    with connected(scheduler) as client:
        _execute(sweep, workers, client, quiet, snapshot_threads, repair)


def _fmt(value) -> str:
    return "—" if value is None else f"{value:.3g}"


@app.command("inspect")
def inspect_command(
    sweep_dir: Annotated[Path, typer.Argument(parser=path_parser, help="a sweep directory")],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Runs by status and medians of the summary columns by learning rule and noise."""
    from repdrift.sweep.directory import open_sweep
    from repdrift.sweep.summary import COLUMNS
    from repdrift.sweep.table import checked_table, inspect_summary

    sweep = open_sweep(sweep_dir)
    df = checked_table(sweep)  # refused when runs are lost: the table would report them
    info = inspect_summary(sweep, df)
    if as_json:
        sys.stdout.write(json.dumps(info, indent=1) + "\n")
        return
    status = ", ".join(f"{n:,} {s}" for s, n in info["status"].items())
    # Wide enough for the fourteen columns even when the output is not a terminal.
    out = Console(highlight=False, width=max(console.width, 170))
    out.print(f"[bold]{info['path']}[/]  {info['name']}  {info['runs']:,} runs: {status}")
    if missing := info["without_summary"]:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        out.print(
            f"{len(missing):,} finished runs have no stored summary ({shown}) and are left "
            f"out of the medians; `repdrift sweep resume {sweep_dir}` writes them",
            markup=False,
        )
    for place in info["computed_on"]:
        out.print(f"computed on {place['on']}: {place['runs']:,} runs", markup=False)
    table = Table(
        "rule",
        "noise",
        "runs",
        "finished",
        "included",
        *COLUMNS,
        title="medians over included runs (log_tau: over successful fits); "
        "the published runs' below each group (the paper's tables)",
    )
    for g in info["groups"]:
        table.add_row(
            g["rule"],
            g["noise"],
            str(g["runs"]),
            str(g["finished"]),
            str(g["included"]),
            *(_fmt(g["median"][c]) for c in COLUMNS),
        )
        if g["published"] is not None:
            table.add_row(
                "",
                "published",
                str(g["published"]["runs"]),
                "",
                "",
                *(_fmt(g["published"]["median"][c]) for c in COLUMNS),
                style="dim",
            )
    out.print(table)


def _fmt_p(value) -> str:
    return "—" if value is None else f"{value:.2g}"


@app.command("compare")
def compare_command(
    sweep_a: Annotated[Path, typer.Argument(parser=path_parser, help="a sweep directory")],
    sweep_b: Annotated[Path, typer.Argument(parser=path_parser, help="another sweep directory")],
    alpha: Annotated[
        float, typer.Option(help="false-discovery rate under which a test says 'differ'")
    ] = 0.05,
    min_runs: Annotated[
        int, int_option(min=2, help="fewest runs (pairs) in a group for a verdict")
    ] = 6,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Do two sweeps show the same drift (e.g. one run on a GPU and on a CPU)?

    Tests each rule and noise group's statuses and summary columns, paired by run id when
    both sweeps hold the same runs. Exit status 0: no test differs; 1: some differ.
    """
    from rich.markup import escape

    from repdrift.sweep.comparison import compare

    result = compare(sweep_a, sweep_b, alpha=alpha, min_runs=min_runs)
    if as_json:
        sys.stdout.write(json.dumps(result.to_dict(), indent=1) + "\n")
    else:
        out = Console(highlight=False, width=max(console.width, 120))
        how = "paired by run id" if result.paired else "as two samples per group"
        out.print(
            f"[bold]A[/] {escape(result.a)}: {result.runs_a:,} runs, "
            f"{result.finished_a:,} finished\n"
            f"[bold]B[/] {escape(result.b)}: {result.runs_b:,} runs, "
            f"{result.finished_b:,} finished\n"
            f"{result.common_runs:,} run ids in both; compared {how}",
            markup=True,
        )
        for name, places in (("A", result.computed_on_a), ("B", result.computed_on_b)):
            for place in places:
                out.print(f"{name} computed on {place['on']}: {place['runs']:,} runs", markup=False)
        if result.config_differs:
            shown = ", ".join(result.config_differs[:8])
            more = len(result.config_differs) - 8
            out.print(
                f"configurations differ in {shown}"
                + (f" and {more} more" if more > 0 else "")
                + ": what they cause counts as a difference",
                markup=False,
            )
        table = Table(
            "rule",
            "noise",
            "column",
            "n",
            "median A",
            "median B",
            "shift",
            "shift / IQR",
            "q",
            "verdict",
            title="status: fraction of finished runs that are complete; q: p-value adjusted "
            f"for the false-discovery rate; 'differ' where q < {result.alpha:g}",
        )
        colours = {"differ": "bold red", "agree": "green", "too few": "dim"}
        for t in result.tests:
            table.add_row(
                t.rule,
                t.noise,
                t.column,
                str(t.n),
                _fmt(t.median_a),
                _fmt(t.median_b),
                _fmt(t.shift),
                _fmt(t.relative_shift),
                _fmt_p(t.q),
                f"[{colours[t.verdict]}]{t.verdict}[/]",
            )
        out.print(table)
        decided = len(result.decided)
        if not decided and not result.shared_groups:
            out.print(
                "[yellow]nothing decided[/]: no (rule, noise) group has finished runs in both "
                "sweeps"
            )
        elif not decided:
            # Not "the same drift": with no test decided, nothing was compared.
            out.print(
                f"[yellow]nothing decided[/]: every group has fewer than {min_runs} runs to "
                "compare (--min-runs)"
            )
        elif result.agree:
            out.print(f"[green]the same drift[/]: none of {decided} tests differs")
        else:
            out.print(f"[bold red]different[/]: {len(result.differing)} of {decided} tests differ")
    if not result.agree:
        raise typer.Exit(1)


@app.command("presets")
def presets_command() -> None:
    """List the shipped sweep presets."""
    from repdrift.config import first_sentence
    from repdrift.sweep.spec import (
        expand,
        preset_names,
        preset_text,
        spec_description,
        spec_from_text,
    )

    names = preset_names()
    width = max(map(len, names))
    for name in names:
        text = preset_text(name)
        runs = len(expand(spec_from_text(text, origin=f"sweep preset {name!r}")))
        desc = first_sentence(spec_description(text))
        print_listing_line(console, f"[bold]{name:<{width}}[/] {runs:>6,} runs  {desc}")
