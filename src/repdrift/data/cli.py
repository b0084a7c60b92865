"""``repdrift data …``: analyse recorded data from the command line.

``repdrift data analyze PATH --out DIR [--json]`` writes the per-session table, the
regressions and the Fig. 3-style figure (see :mod:`repdrift.data.report`). Exit status 0
on success; 2 on a usage or input error, with one line on stderr naming the file and the
problem, and nothing left in ``DIR``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .analysis import AnalysisConfig
from .errors import DataError

app = typer.Typer(
    name="data",
    help="Analyse recorded hippocampal data: place cells, spatial information, drift.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _data() -> None:
    """Analyse recorded hippocampal data: place cells, spatial information, drift."""


def _fail(message: str, status: int = 2) -> typer.Exit:
    typer.echo(f"repdrift: error: {' '.join(str(message).split())}", err=True)
    return typer.Exit(status)


def _check_out(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise DataError(out, "--out exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise DataError(out, "--out exists and is not empty (use --overwrite to replace it)")


def _publish(tmp: Path, out: Path) -> None:
    """Put the finished results at ``out``: a rename, so ``out`` is never half-written."""
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        out.rename(old)
        try:
            tmp.rename(out)
        except OSError:
            old.rename(out)
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(out)


@app.command()
def analyze(
    path: Annotated[
        Path,
        typer.Argument(
            help="A multiple_maps track, mouse or data-set "
            "folder; a spike_train folder; .nwb/.npz/.parquet "
            "session files or a folder of them."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the results.")],
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the regressions as JSON on stdout.")
    ] = False,
    shuffles: Annotated[int, typer.Option(help="Circular shuffles per place-cell test.")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the shuffles and subsamples.")] = 0,
    overwrite: Annotated[bool, typer.Option(help="Replace a non-empty --out folder.")] = False,
) -> None:
    """Place cells and spatial information per session, and their trends over days."""
    from .layouts import describe
    from .report import analyze_path, write_report

    console = Console(stderr=True)
    if shuffles < 1:
        raise _fail(f"--shuffles must be at least 1, got {shuffles}")
    config = AnalysisConfig(n_shuffles=shuffles, seed=seed)
    out = out.expanduser()
    tmp: Path | None = None
    try:
        _check_out(out, overwrite)
        layout = describe(path)
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
        except OSError as err:
            raise DataError(out, f"cannot create the results folder ({err.strerror})") from None
        progress = Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        with progress:
            task = progress.add_task(f"{layout.name}: analysing", total=layout.n_sessions)

            def done(session, result) -> None:
                for note in result.notes:
                    progress.console.print(
                        f"[yellow]note:[/] {note}", highlight=False, soft_wrap=True
                    )
                progress.update(task, advance=1, description=session.label())

            report = analyze_path(path, config, on_session=done, layout=layout)
        if not report.results:
            raise DataError(path, "no sessions found")
        files = write_report(report, tmp)
        _publish(tmp, out)
        tmp = None
    except DataError as err:
        raise _fail(str(err)) from None
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    summary = report.summary()
    if json_output:
        summary["outputs"] = {k: str(out / f.name) for k, f in files.items()}
        typer.echo(json.dumps(summary, indent=2))
        return
    _print_summary(Console(), summary, out)


def _print_summary(console: Console, summary: dict, out: Path) -> None:
    table = Table(
        title=f"{summary['n_sessions']} sessions ({summary['layout']}): trends over "
        "days, normalised to the first session, pooled"
    )
    for column in ("metric", "slope /day", "p-value", "n"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for metric, fits in summary["trends"].items():
        fit = fits["pooled"]
        table.add_row(
            metric, _num(fit["slope"], "+.4f"), _num(fit["p_value"], ".3g"), str(fit["n"])
        )
    drift = summary["drift"]["pooled"]
    table.add_row(
        "rate-map correlation (drift)",
        _num(drift["slope"], "+.4f"),
        _num(drift["p_value"], ".3g"),
        str(drift["n"]),
    )
    console.print(table)
    console.print(f"results in {out}")


def _num(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)
