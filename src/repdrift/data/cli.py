"""``repdrift data …``: analyse recorded data from the command line.

``repdrift data analyze PATH --out DIR [--json]`` writes the per-session table, the
regressions and the Fig. 3-style figure (see :mod:`repdrift.data.report`), and a small
manifest, ``repdrift-analysis.json``, that lists them. Exit status 0 on success; 2 on a
usage or input error, with one line on stderr naming the file and the problem, and nothing
left in ``DIR``.

``--overwrite`` replaces only an earlier result of this command: a folder whose manifest
lists every file in it. Any other non-empty folder, or a result folder to which other
files were added, is refused and left as it is.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from repdrift.interrupts import on_interrupt
from repdrift.progress import Progress
from repdrift.terminal import int_option, path_parser

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


#: The manifest an analysis writes into its results folder; ``--overwrite`` replaces only
#: folders that hold one and nothing it does not list.
MANIFEST = "repdrift-analysis.json"
_MANIFEST_KIND = "repdrift data analyze results"
#: Seeds of the shuffles are unsigned 64-bit integers, as the seeds of simulations.
MAX_SEED = 2**64 - 1
#: More shuffles than this resolve p-values below 1e-5, far under any threshold used.
MAX_SHUFFLES = 100_000


def _write_manifest(folder: Path, files: dict[str, Path], source: Path) -> None:
    manifest = {
        "kind": _MANIFEST_KIND,
        "format": 1,
        "source": str(source),
        "files": sorted(f.name for f in files.values()),
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")


def _ours(out: Path) -> set[str] | None:
    """The entries an earlier analysis wrote into ``out``; ``None``: it holds none."""
    try:
        manifest = json.loads((out / MANIFEST).read_text())
        if manifest.get("kind") != _MANIFEST_KIND:
            return None
        return {str(name) for name in manifest["files"]} | {MANIFEST}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _check_out(out: Path, overwrite: bool, named: Path | None = None) -> None:
    """``out`` may receive results: absent, empty, or (with ``overwrite``) our own results
    (:func:`repdrift.store.check_results_out`). Errors name ``named`` (the path as the user
    gave it), by default ``out``."""
    from repdrift.store import StoreError, check_results_out

    try:
        check_results_out(
            out,
            overwrite=overwrite,
            owned=_ours,
            what=f"an earlier result of `repdrift data analyze` (with its {MANIFEST})",
            named=named,
        )
    except StoreError as err:  # the command's own error, as the others here
        raise DataError(None, str(err)) from None


def _publish(tmp: Path, out: Path, overwrite: bool, named: Path | None = None) -> None:
    """Put the finished results at ``out``: a rename, so ``out`` is never half-written.

    ``out`` is checked again first: the analysis may have taken minutes.
    """
    from repdrift.store import publish_dir

    _check_out(out, overwrite, named)
    publish_dir(tmp, out)


@app.command()
def analyze(
    path: Annotated[
        Path,
        typer.Argument(
            parser=path_parser,
            help="A multiple_maps track, mouse or data-set "
            "folder; a spike_train folder; .nwb/.npz/.parquet "
            "session files or a folder of them.",
        ),
    ],
    out: Annotated[
        Path, typer.Option("--out", "-o", parser=path_parser, help="Folder for the results.")
    ],
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the regressions as JSON on stdout.")
    ] = False,
    shuffles: Annotated[int, int_option(help="Circular shuffles per place-cell test.")] = 1000,
    seed: Annotated[int, int_option(help="Seed of the shuffles and subsamples.")] = 0,
    overwrite: Annotated[bool, typer.Option(help="Replace a non-empty --out folder.")] = False,
) -> None:
    """Place cells and spatial information per session, and their trends over days."""
    from .layouts import describe
    from .report import analyze_path, write_report

    console = Console(stderr=True)
    if not 1 <= shuffles <= MAX_SHUFFLES:
        raise _fail(f"--shuffles must be an integer in [1, {MAX_SHUFFLES:,}], got {shuffles}")
    if not 0 <= seed <= MAX_SEED:
        raise _fail(f"--seed must be an integer in [0, 2^64 − 1], got {seed}")
    from .analysis import AnalysisConfig

    config = AnalysisConfig(n_shuffles=shuffles, seed=seed)
    # The folder itself, not a link to it or a name relative to it, is what is replaced;
    # messages name it as given.
    given = out
    try:
        out = out.expanduser().resolve()
    except (OSError, RuntimeError) as err:  # RuntimeError: a loop of links
        raise _fail(f"{out}: cannot use --out ({err})") from None
    tmp: Path | None = None
    notes: list[str] = []
    if (smallest := 1 / (shuffles + 1)) >= config.p_threshold:
        notes.append(
            f"--shuffles {shuffles}: the smallest p-value of the place-cell test is "
            f"1/{shuffles + 1} = {smallest:.3g}, not below {config.p_threshold}: no cell "
            "can be a place cell (give at least "
            f"{math.floor(1 / config.p_threshold)} shuffles)"
        )
    try:
        _check_out(out, overwrite, named=given)
        layout = describe(path)
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            from repdrift.store import temporary_dir  # xarray and Zarr: only when used

            tmp = temporary_dir(out.parent, f".{out.name}.", ".tmp")
        except OSError as err:
            raise DataError(given, f"cannot create the results folder ({err.strerror})") from None
        progress = Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            # Nothing where stderr is not a terminal (not even the lines the project's
            # Progress prints in logs): an error is then stderr's one line.
            disable=not console.is_interactive,
        )
        with progress:
            task = progress.add_task(f"{layout.name}: analysing", total=layout.n_sessions)

            def done(session, result) -> None:
                # kept until the analysis has succeeded: an error in a later session is
                # then the one line printed
                notes.extend(result.notes)
                progress.update(task, advance=1, description=session.label())

            with on_interrupt(f"nothing was written to {given}"):
                report = analyze_path(path, config, on_session=done, layout=layout)
        if not report.results:
            raise DataError(path, "no sessions found")
        try:
            files = write_report(report, tmp)
            _write_manifest(tmp, files, path)
            _publish(tmp, out, overwrite, given)
        except OSError as err:
            raise DataError(given, f"cannot write the results ({err.strerror or err})") from None
        tmp = None
    except DataError as err:
        raise _fail(str(err)) from None
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    for note in notes:
        console.print(f"[yellow]note:[/] {note}", highlight=False, soft_wrap=True)
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
