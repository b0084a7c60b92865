"""The ``repdrift`` command.

Exit status 0 on success, 2 on a usage or input error, 1 when the file system refuses a
write midway (no space left, say), with one line on stderr that names the problem (never a
traceback).
"""

from __future__ import annotations

import importlib
import json
import shutil
import sys
import time
import warnings
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from repdrift import config as config_mod
from repdrift.interrupts import on_interrupt, say_interrupted, start_command
from repdrift.progress import Progress
from repdrift.terminal import int_option, path_parser, print_listing_line

app = typer.Typer(
    name="repdrift",
    help="Representational drift as a result of implicit regularization: simulate, "
    "inspect and analyse.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)
console = Console(highlight=False)


def _print_version(value: bool) -> None:
    if value:
        from repdrift import __version__

        console.print(f"repdrift {__version__}", markup=False)
        raise typer.Exit(0)


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """The options of ``repdrift`` itself (its help is the app's)."""


def _fail(message: str) -> None:
    err_console.print(f"repdrift: error: {message}", markup=False)
    raise typer.Exit(2)


class _StepsPerSecond(ProgressColumn):
    def render(self, task) -> Text:
        speed = task.fields.get("rate")
        return Text(f"{speed:,.0f} steps/s" if speed else "… steps/s", style="cyan")


class _Metrics(ProgressColumn):
    def render(self, task) -> Text:
        loss = task.fields.get("loss")
        units = task.fields.get("units")
        if loss is None:
            return Text("")
        shown = f"loss {loss:.3g}"
        if units is not None:
            shown += f"  active units {units:.3f}"
        return Text(shown, style="magenta")


def _progress(quiet: bool, label: str = "simulate"):
    """A rich progress bar named ``label`` and the callback the simulation calls after
    each chunk."""
    if quiet:
        return None, None
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _StepsPerSecond(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        _Metrics(),
        console=err_console,
        transient=False,
    )
    state = {"task": None, "t0": None, "s0": 0}

    def update(step: int, total: int, metrics: dict[str, float]) -> None:
        now = time.monotonic()
        if state["task"] is None:
            state["task"] = bar.add_task(label, total=total, completed=step)
            state["t0"], state["s0"] = now, step
        elapsed = now - state["t0"]
        rate = (step - state["s0"]) / elapsed if elapsed > 0 else None
        bar.update(
            state["task"],
            completed=step,
            rate=rate,
            loss=metrics.get("loss"),
            units=metrics.get("fraction_active_units"),
        )

    return bar, update


def _run_with_progress(fn, quiet: bool, label: str = "simulate"):
    """``fn(callback)``; the bar appears at the first progress report (an error before it
    leaves stderr with its one line)."""
    bar, update = _progress(quiet, label)
    if bar is None:
        return fn(None)
    started = False

    def report(step: int, total: int, metrics: dict[str, float]) -> None:
        nonlocal started
        if not started:
            bar.start()
            started = True
        update(step, total, metrics)

    try:
        return fn(report)
    finally:
        if started:
            bar.stop()


def _figures(run, quiet: bool) -> list[Path]:
    """Draw the run's figures into ``figures/``, which is renamed into place whole: a run
    whose ``figures/`` exists has all of them (:func:`_continues`)."""
    from repdrift import store
    from repdrift.plotting.runs import draw_run

    final = run.path / "figures"
    tmp = store.temporary_dir(run.path, ".figures.")
    try:
        drawn = draw_run(run, tmp)
        store.publish_dir(tmp, final)
        paths = [final / p.relative_to(tmp) for p in drawn]
    except ValueError as err:
        shutil.rmtree(tmp, ignore_errors=True)
        # A run that diverged or fell silent early may hold too little to draw (a few
        # records, infinite values); it is stored as such, and that is the command's
        # result. A complete run that cannot be drawn is a fault, not bad input.
        if run.status.status == "complete":
            raise
        err_console.print(
            f"figures: none drawn for this {run.status.status} run: {_one_line(err)}",
            markup=False,
        )
        return []
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if not quiet:
        err_console.print(f"figures: {run.path / 'figures'} ({len(paths)} files)")
    return paths


def _report(run) -> None:
    s = run.summary()
    i, f = s["initial"], s["final"]

    def fmt(v):
        return "—" if v is None else f"{v:.4g}"

    line = (
        f"{run.path}: {s['status']}, {s['steps_done']:,}/{s['steps_total']:,} steps; "
        f"loss {fmt(i.get('loss'))} → {fmt(f.get('loss'))}"
    )
    if "fraction_active_units" in f:
        a, b = i.get("fraction_active_units"), f.get("fraction_active_units")
        line += f", active units {fmt(a)} → {fmt(b)}"
    if "mean_x" in f:
        line += f", mean x {fmt(i.get('mean_x'))} → {fmt(f.get('mean_x'))}"
    if "mean_si_place_units" in f:
        a, b = i.get("mean_si_place_units"), f.get("mean_si_place_units")
        line += f", mean SI of place units {fmt(a)} → {fmt(b)} bits"
    err_console.print(line, markup=False)


@app.command()
def simulate(
    out: Annotated[Path, typer.Option("--out", parser=path_parser, help="run directory to create")],
    preset: Annotated[str | None, typer.Option(help="a shipped preset, e.g. fig2-quick")] = None,
    config: Annotated[
        Path | None, typer.Option("--config", parser=path_parser, help="a TOML config file")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="override a field: section.field=value (repeatable)"),
    ] = None,
    steps: Annotated[int | None, int_option(help="training steps (run.steps)")] = None,
    seed: Annotated[int | None, int_option(help="seed (run.seed)")] = None,
    overwrite: Annotated[bool, typer.Option(help="replace an existing run in --out")] = False,
    figures: Annotated[bool, typer.Option(help="draw Fig. 2-style figures")] = True,
    quiet: Annotated[bool, typer.Option(help="no progress bar")] = False,
    cores: Annotated[int, int_option(min=1, help="CPU cores for the run (fastest: 1)")] = 1,
) -> None:
    """Run one simulation and store it in OUT (with figures in OUT/figures)."""
    if preset is None and config is None:
        _fail(
            f"give --preset NAME or --config FILE (presets: {', '.join(config_mod.preset_names())})"
        )
    cfg = config_mod.load_config(
        config, preset=preset, overrides=set_ or [], steps=steps, seed=seed
    )
    from repdrift.experiments.workspace import reproduction_holding
    from repdrift.sweep.directory import sweep_holding

    if (sweep_dir := sweep_holding(out)) is not None:
        _fail(
            f"--out {out} is in the runs of the sweep {sweep_dir}, which writes them itself "
            f"(`repdrift sweep resume {sweep_dir}`); choose a directory outside it"
        )
    if (root := reproduction_holding(out)) is not None:
        _fail(
            f"--out {out} is in the runs of the reproduction {root}, which writes them itself "
            f"(`repdrift reproduce ... --out {root}`); choose a directory outside it"
        )
    # the simulation's JAX loads once the configuration is known to be good
    from repdrift import simulation

    _use_cores(cores)
    from repdrift.store import CONFIG_FILE, is_run

    def kept() -> str:  # asked at the interrupt: before the run is created, nothing is kept
        if not is_run(out):
            return f"nothing was written to {out}"
        try:
            replaced = (Path(out) / CONFIG_FILE).read_text() != cfg.to_toml()
        except OSError:
            replaced = False
        if replaced:  # --overwrite stopped before the new run stored a step: the old is back
            return f"the earlier run in {out} is kept"
        return _continues(out)

    with on_interrupt(kept):
        run = _run_with_progress(
            lambda cb: simulation.simulate(cfg, out, overwrite=overwrite, progress=cb), quiet
        )
        if figures:
            _figures(run, quiet)
    _report(run)


def _recover(run_dir: Path) -> None:
    """Put back, and say so, an earlier run that a killed ``--overwrite`` left aside
    (reading the run would do it silently)."""
    from repdrift import store

    if store.recover_replaced(run_dir, store.holds_generations):
        err_console.print(
            f"{run_dir}: the earlier run is back; the --overwrite replacing it was killed "
            "before storing a step",
            markup=False,
        )


@app.command()
def resume(
    run_dir: Annotated[Path, typer.Argument(parser=path_parser, help="a run directory")],
    figures: Annotated[bool, typer.Option(help="draw Fig. 2-style figures")] = True,
    quiet: Annotated[bool, typer.Option(help="no progress bar")] = False,
    cores: Annotated[
        int | None, int_option(min=1, help="CPU cores [default: the run's own count]")
    ] = None,
) -> None:
    """Continue a stopped run to the records an uninterrupted run gives."""
    from repdrift import simulation, store

    _recover(run_dir)
    recorded = store.read_computed_on(run_dir) or {}
    # (with the run's own count, a machine with fewer cores is named in the note below)
    _use_cores(cores if cores is not None else _run_threads(recorded), given=cores is not None)
    before = store.read_status(run_dir)
    if before.status not in simulation.FINISHED and (note := simulation.resume_note(run_dir)):
        err_console.print(f"{run_dir}: note: {note}", markup=False)
    with on_interrupt(lambda: _continues(run_dir)), warnings.catch_warnings():
        warnings.simplefilter("ignore", simulation.ComputedElsewhereWarning)  # the note said it
        run = _run_with_progress(
            lambda cb: simulation.resume(run_dir, progress=cb), quiet, label="resume"
        )
        finished = before.status in simulation.FINISHED
        if figures and not (finished and (run.path / "figures").is_dir()):
            _figures(run, quiet)  # also those a stop while drawing left undrawn
        elif finished and not quiet:
            err_console.print(f"{run_dir}: already {before.status}; nothing to do", markup=False)
    _report(run)


def _continues(run_dir: Path) -> str:
    """What ``repdrift resume`` would still do after a Ctrl-C, asked at the interrupt:
    the run's steps, or, of a finished run, its figures (:func:`_figures` puts them in
    place whole, so a run with ``figures/`` has them all)."""
    from repdrift import simulation, store

    try:
        status = store.read_status(run_dir).status
    except (store.StoreError, OSError):
        status = None
    if status not in simulation.FINISHED:
        return f"`repdrift resume {run_dir}` continues the run"
    if (Path(run_dir) / "figures").is_dir():
        return f"the run is {status}"
    return f"the run is {status}; `repdrift resume {run_dir}` draws its figures"


def _use_cores(n: int, *, given: bool = True) -> None:
    """:func:`repdrift.cores.use_cores`; where the machine has fewer cores than a
    ``--cores`` the user ``given``, says so."""
    from repdrift.cores import use_cores

    got = use_cores(n)
    if given and got is not None and got < n:
        err_console.print(
            f"repdrift: note: --cores {n}: this process may run on {got} "
            f"core{'' if got == 1 else 's'}; XLA uses {got} thread{'' if got == 1 else 's'}",
            markup=False,
        )


def _run_threads(recorded: dict) -> int:
    """The CPU thread count a run's stored steps were computed with (1 where it does
    not say, the count ``simulate`` uses by default, or where they ran on a GPU)."""
    threads = recorded.get("cpu_threads")
    if recorded.get("platform") != "cpu" or isinstance(threads, bool):
        return 1
    return threads if isinstance(threads, int) and threads >= 1 else 1


@app.command()
def inspect(
    run_dir: Annotated[Path, typer.Argument(parser=path_parser, help="a run directory")],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Status, progress, configuration and initial/final metrics of a run."""
    from repdrift.runs import open_run  # the records only: no JAX, no dataset

    _recover(run_dir)
    run = open_run(run_dir, with_dataset=False)
    summary = run.summary()
    if as_json:
        sys.stdout.write(json.dumps(summary, indent=1) + "\n")
        return
    console.print(
        f"[bold]{summary['path']}[/]  status [bold]{summary['status']}[/]  "
        f"{summary['steps_done']:,} / {summary['steps_total']:,} steps"
        + (f"  ({summary['message']})" if summary["message"] else "")
    )
    c = run.config
    if c.model.kind == "network":
        console.print(
            f"task {c.task.kind}, {c.network.hidden} hidden units "
            f"({c.network.activation}), learner {c.learner.kind} lr {c.learner.lr:g}, "
            f"update noise {c.learner.update_noise:g}, label noise "
            f"{c.learner.label_noise:g}, seed {c.run.seed}"
        )
    else:
        fields = ", ".join(f"{k} {v}" for k, v in c.model.model_dump().items() if k != "kind")
        console.print(f"model {c.model.kind}: {fields}; seed {c.run.seed}")
    if summary["computed_on"] is not None:
        from repdrift.cores import describe_computed_on

        # oldest first, one line each (for grep); steps only where the run moved
        places = [*summary["computed_earlier"], {"computed_on": summary["computed_on"]}]
        start = 0
        for place in places:
            end = place.get("until_step", summary["steps_done"])
            steps = f" (steps {start:,}–{end:,})" if len(places) > 1 else ""
            console.print(
                f"computed on {describe_computed_on(place['computed_on'])}{steps}",
                markup=False,
                soft_wrap=True,
            )
            start = end
    table = Table("metric", "initial", "final")
    for name in summary["final"]:
        if name.startswith("step_"):
            continue
        a, b = summary["initial"].get(name), summary["final"].get(name)
        table.add_row(name, "—" if a is None else f"{a:.4g}", "—" if b is None else f"{b:.4g}")
    table.add_row(
        "step",
        str(summary["initial"].get("step_metrics")),
        str(summary["final"].get("step_metrics")),
    )
    console.print(table)


@app.command()
def presets() -> None:
    """List the shipped presets."""
    names = config_mod.preset_names()
    width = max(map(len, names))
    for name in names:
        desc = config_mod.first_sentence(config_mod.preset_description(name))
        print_listing_line(console, f"[bold]{name:<{width}}[/]  {desc}")


@app.command("config")
def show_config(
    preset: Annotated[str | None, typer.Option(help="a shipped preset")] = None,
    config: Annotated[
        Path | None, typer.Option("--config", parser=path_parser, help="a TOML config file")
    ] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="section.field=value")] = None,
    reference: Annotated[bool, typer.Option(help="print the field reference (Markdown)")] = False,
) -> None:
    """Print a validated configuration as TOML (or the reference of all fields)."""
    if reference:
        if preset is not None or config is not None or set_:
            _fail("--reference prints every field of every section; give it alone")
        sys.stdout.write(config_mod.config_reference())
        return
    cfg = config_mod.load_config(config, preset=preset, overrides=set_ or [])
    sys.stdout.write(cfg.to_toml())


def _mount_data() -> None:
    from repdrift.data.cli import app as data_app

    app.add_typer(data_app, name="data", help="Analyse recorded hippocampal data.")


_mount_data()


def _mount_reproduce() -> None:
    from repdrift.experiments.cli import reproduce

    app.command("reproduce")(reproduce)


_mount_reproduce()


def _mount_sweep() -> None:
    from repdrift.sweep.cli import app as sweep_app

    app.add_typer(sweep_app, name="sweep", help="Run, resume and inspect sweeps of many runs.")


_mount_sweep()


def _mount_infer() -> None:
    from repdrift.inference.cli import app as infer_app

    app.add_typer(
        infer_app, name="infer", help="Infer the learning rule and the noise from drift statistics."
    )


_mount_infer()


#: The errors of bad input that ``main`` reports in one line with exit status 2, by module.
_KNOWN_ERRORS = (
    ("repdrift.config", "ConfigError"),
    ("repdrift.store", "StoreError"),
    ("repdrift.sweep.spec", "SweepError"),
    ("repdrift.inference.errors", "InferenceError"),
    ("repdrift.data.errors", "DataError"),
)


def _known_errors() -> tuple[type[BaseException], ...]:
    # Only the modules already loaded can have raised their error: looking them up in
    # sys.modules spares an early error (a wrong preset) the import of the store's xarray
    # and Zarr.
    return tuple(
        getattr(sys.modules[module], name)
        for module, name in _KNOWN_ERRORS
        if module in sys.modules
    )


def _click_errors(name: str) -> tuple[type[BaseException], ...]:
    """``name`` from click and from the copy of click that newer typer releases carry."""
    found = []
    for module in ("click.exceptions", "typer._click.exceptions"):
        try:
            found.append(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):
            continue
    return tuple(found)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app; map known errors to one line and exit status 2."""
    code = 0
    start_command()
    try:
        result = app(args=argv, standalone_mode=False, prog_name="repdrift")
        code = result if isinstance(result, int) else 0
    except (typer.Exit, *_click_errors("Exit")) as exit_:
        code = getattr(exit_, "exit_code", 0)
    except _click_errors("NoArgsIsHelpError") as err:
        console.print(err.format_message(), markup=False)
        code = 0
    except _click_errors("UsageError") as err:
        err_console.print(f"repdrift: error: {_one_line(err.format_message())}", markup=False)
        code = 2
    except (KeyboardInterrupt, typer.Abort, *_click_errors("Abort")):
        code = 130
    except _known_errors() as err:
        err_console.print(f"repdrift: error: {_one_line(err)}", markup=False)
        code = 2
    except OSError as err:
        # A folder the user named that may not be written is bad input (status 2, as when
        # `simulate` finds it first); the file system failing otherwise (no space) is 1.
        where = f" ({err.filename})" if err.filename else ""
        err_console.print(f"repdrift: error: {err.strerror or err}{where}", markup=False)
        code = 2 if isinstance(err, PermissionError) else 1
    if code == 130:
        # A Ctrl-C: the command's `on_interrupt` has said what it kept; one that came
        # before (while the command's modules load; typer makes it a silent 130) is said here.
        say_interrupted()
    raise SystemExit(code)


def _one_line(message: object) -> str:
    return " ".join(str(message).split())


if __name__ == "__main__":
    main()
