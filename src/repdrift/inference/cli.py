"""``repdrift infer``: infer the learning rule and the noise from drift statistics.

::

    repdrift infer train LIBRARY... --out MODEL [--overwrite] [--no-evaluate] [--seed S]
                                    [--workers N] [--json] [--quiet]
    repdrift infer predict MODEL TARGET [--tier auto|recording|observables|hessian] [--json]

``LIBRARY`` is a sweep directory (several may be given; ``repdrift sweep --preset
infer-library-quick`` makes one) or the ``library.parquet`` of an earlier model.
``TARGET`` is a run directory, a sweep directory or a sessions table of ``repdrift data
analyze`` (``sessions.parquet`` / ``sessions.csv``). Exit status 0 on success; 2 with one
line on stderr for bad input (not a library, not a model, not a target, a target that
lacks the features a tier needs, an ``--out`` that may not be written), and then nothing
is written.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from repdrift.interrupts import on_interrupt
from repdrift.terminal import int_option, path_parser

err_console = Console(stderr=True, highlight=False, soft_wrap=True)
console = Console(highlight=False)

app = typer.Typer(
    name="infer",
    help="Infer the learning rule and the noise of a run, a sweep or a recording from its "
    "drift statistics.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _fmt(value, digits: int = 2) -> str:
    if value is None or value != value:
        return "—"
    return f"{value:.{digits}f}"


@app.command("train")
def train_command(
    library: Annotated[
        list[Path],
        typer.Argument(parser=path_parser, help="sweep directories, or one library.parquet"),
    ],
    out: Annotated[Path, typer.Option("--out", parser=path_parser, help="model folder to create")],
    overwrite: Annotated[bool, typer.Option(help="replace an existing model folder")] = False,
    evaluate: Annotated[
        bool, typer.Option(help="evaluate (random, held-out task and size class) and draw")
    ] = True,
    seed: Annotated[
        int, int_option(min=0, max=2**32 - 1, help="seed of the folds and the trees")
    ] = 0,
    workers: Annotated[int, int_option(min=1, help="processes for reading and folds")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="print the evaluation as JSON")] = False,
    quiet: Annotated[bool, typer.Option(help="no progress lines")] = False,
) -> None:
    """Fit the rule classifier and noise regressors on LIBRARY; write MODEL."""
    from repdrift.inference.train import EVALUATION_FILE, headline, train

    def say(message: str) -> None:
        if not quiet:
            err_console.print(message, markup=False)

    with on_interrupt(f"nothing was written to {out}"):
        result = train(
            library,
            out,
            overwrite=overwrite,
            evaluate=evaluate,
            seed=seed,
            workers=workers,
            progress=say,
        )
    if as_json:
        record = {"model": str(result.path), "seconds": result.seconds}
        if result.evaluation is not None:
            record["evaluation"] = json.loads((result.path / EVALUATION_FILE).read_text())
        sys.stdout.write(json.dumps(record, indent=1) + "\n")
        return
    say(
        f"model: {result.path} ({', '.join(result.model.tiers)} tiers; "
        f"rules {', '.join(result.model.classes)})"
    )
    if result.evaluation is None:
        return
    rows = headline(result.evaluation)
    noise_rules = sorted({k[13:-1] for r in rows for k in r if k.startswith("noise_within[")})
    table = Table(
        "protocol",
        "tier",
        "runs",
        "accuracy",
        "network rules",
        "balanced",
        *(f"noise ×1.5 {r}" for r in noise_rules),
        title="held-out evaluation (accuracy; fraction of noisy runs within ×1.5)",
    )
    for r in rows:
        table.add_row(
            r["protocol"],
            r["tier"],
            str(r["runs"]),
            _fmt(r["accuracy"]),
            _fmt(r["accuracy_network_rules"]),
            _fmt(r["balanced_accuracy"]),
            *(_fmt(r.get(f"noise_within[{n}]")) for n in noise_rules),
        )
    Console(highlight=False, width=max(console.width, 120)).print(table)


def _show(predictions, model) -> None:
    from repdrift.inference.library import NOISE_NAMES
    from repdrift.inference.model import INTERVAL
    from repdrift.inference.predict import length_note

    for p in predictions:
        tm = model.tiers[p.tier]
        console.print(f"[bold]{escape(p.name)}[/]  ({p.tier} tier, {len(tm.features)} features)")
        for rule in sorted(p.probabilities, key=p.probabilities.get, reverse=True):
            prob = p.probabilities[rule]
            bar = "█" * round(20 * prob)
            mark = "  ← most likely" if rule == p.rule else ""
            console.print(f"  {rule:<12} {prob:6.3f} {bar}{mark}", markup=False)
        noisy = p.rule if p.rule in p.noise else None
        if noisy is None and p.noise:
            noisy = max(p.noise, key=lambda r: p.probabilities.get(r, 0.0))
        if noisy is not None:
            centre, low, high = p.noise[noisy]
            name = NOISE_NAMES.get(tm.noise[noisy].kind, "noise")
            cond = "" if noisy == p.rule else f" (if the rule is {noisy})"
            console.print(
                f"  noise{cond}: {name} ≈ {centre:.3g}, {INTERVAL:.0%} interval "
                f"{low:.3g}–{high:.3g}",
                markup=False,
            )
        elif p.rule not in p.noise:
            console.print(f"  noise: {p.rule} carries no added noise in the library", markup=False)
        if p.truth is not None:
            true_noise = p.truth.get("noise")
            shown = "" if true_noise is None else f", noise {true_noise:.3g}"
            console.print(f"  true (from the run's config): {p.truth['rule']}{shown}", markup=False)
        note = length_note(model, p)
        if note:
            console.print(f"  note: {note}", markup=False)
        if p.outside:
            console.print(
                f"  outside the library's range (1st–99th percentile): {', '.join(p.outside)}",
                markup=False,
            )


@app.command("predict")
def predict_command(
    model_dir: Annotated[
        Path, typer.Argument(parser=path_parser, help="a model folder (`repdrift infer train`)")
    ],
    target: Annotated[
        Path,
        typer.Argument(
            parser=path_parser, help="a run, a sweep, or a sessions table (.parquet/.csv)"
        ),
    ],
    tier: Annotated[str, typer.Option(help="auto, recording, observables or hessian")] = "auto",
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Print the most likely learning rule of TARGET, with calibrated probabilities, and
    its noise magnitude with an interval."""
    from repdrift.inference import model as model_mod
    from repdrift.inference import predict as predict_mod

    fitted, _ = model_mod.load(model_dir)
    resolved = predict_mod.resolve(target)
    predictions = [predict_mod.predict(fitted, item, tier) for item in resolved.items]
    caveats = list(predict_mod.RECORDING_CAVEATS) if resolved.kind == "sessions" else []
    known = [p for p in predictions if p.truth is not None]
    accuracy = sum(p.rule == p.truth["rule"] for p in known) / len(known) if known else None
    if as_json:
        record = {
            "model": str(model_dir),
            "target": str(target),
            "kind": resolved.kind,
            "predictions": [p.to_json(fitted) for p in predictions],
            "accuracy": accuracy,
            "notes": resolved.notes,
            "caveats": caveats,
        }
        sys.stdout.write(json.dumps(record, indent=1) + "\n")
        return
    for note in resolved.notes:
        err_console.print(f"note: {note}", markup=False)
    if resolved.kind == "sweep":
        _sweep_table(predictions, fitted)
    else:
        _show(predictions, fitted)
    if accuracy is not None and len(known) > 1:
        console.print(f"rule right for {accuracy:.1%} of {len(known)} runs", markup=False)
    if resolved.kind == "sessions" and len(predictions) > 1:
        _tally(predictions, fitted.classes)
    if caveats:
        console.print("\nWhat a day-scale recording can and cannot say:", markup=False)
        for line in caveats:
            console.print(f"  - {line}", markup=False)


def _tally(predictions, classes) -> None:
    """How often each rule is the most likely, and the mean probability over items."""
    n = len(predictions)
    parts = []
    for rule in sorted(classes, key=lambda c: -sum(p.probabilities[c] for p in predictions)):
        top = sum(p.rule == rule for p in predictions)
        mean = sum(p.probabilities[rule] for p in predictions) / n
        if top or mean >= 0.05:
            parts.append(f"{rule} {top}/{n} (mean p {mean:.2f})")
    console.print(f"\nmost likely over {n} series: " + ", ".join(parts), markup=False)


def _sweep_table(predictions, model) -> None:
    table = Table(
        "run",
        "tier",
        "predicted",
        "p",
        "noise (90 % interval)",
        "true rule",
        "true noise",
        title="predictions",
    )
    for p in predictions:
        if p.rule in p.noise:
            c, lo, hi = p.noise[p.rule]
            noise = f"{c:.3g} ({lo:.3g}–{hi:.3g})"
        else:
            noise = "—"
        truth = p.truth or {}
        true_noise = truth.get("noise")
        table.add_row(
            p.name,
            p.tier,
            p.rule,
            f"{p.probabilities[p.rule]:.2f}",
            noise,
            str(truth.get("rule", "—")),
            "—" if true_noise is None else f"{true_noise:.3g}",
        )
    Console(highlight=False, width=max(console.width, 110)).print(table)
