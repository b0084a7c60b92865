"""Making the paper's figures and claims report: :func:`reproduce` computes what is missing
(:mod:`.jobs`), makes the figures, evaluates the claims (:mod:`.claims`) and writes the
report (:mod:`.report`). Imported through :mod:`repdrift.experiments`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from repdrift import store
from repdrift.experiments import claims as claims_mod
from repdrift.experiments import fig2, fig3, fig4, fig5, jobs, report, s1, s2, table1
from repdrift.experiments.settings import Settings, default_data_dir
from repdrift.experiments.workspace import ReproduceError, Workspace, open_workspace

#: Figure name -> module, in the order ``all`` makes them.
MODULES: dict[str, ModuleType] = {
    "fig2": fig2,
    "fig3": fig3,
    "fig4": fig4,
    "fig5": fig5,
    "s1": s1,
    "s2": s2,
    "table1": table1,
}
FIGURES: tuple[str, ...] = tuple(MODULES)


class ReproduceFailure(RuntimeError):
    """Some runs, sweeps or figures failed; the message lists them."""


def _compute(
    ws: Workspace,
    names: Sequence[str],
    settings: Settings,
    declared: Sequence[jobs.Job],
    workers: int | None,
    scheduler: str | None,
    reporter: jobs.Reporter,
) -> dict[str, str]:
    """Run the jobs, then make each figure whose jobs succeeded; return what failed."""
    outcome = jobs.execute(ws, declared, workers=workers, scheduler=scheduler, reporter=reporter)
    failed: dict[str, str] = dict(outcome.failed)
    for name in names:
        needed = {j.name for j in MODULES[name].jobs(settings)}
        blocked = sorted(n for n in needed if n in outcome.failed)
        if blocked:
            failed[name] = f"not made: {', '.join(blocked)} failed"
            continue
        reporter.start(f"make:{name}", f"{name}: figures and numbers", None)
        numbers = MODULES[name].make(ws, settings)
        numbers["sources"] = [
            ws.relative(jobs.job_path(ws, j))
            for j in MODULES[name].jobs(settings)
            if jobs.job_path(ws, j).exists()
        ]
        ws.write_results(name, numbers)
        ws.mark_done(name, [ws.root / f for f in numbers.get("files", [])])
        reporter.finish(f"make:{name}", f"{len(numbers.get('files', []))} files")
    return failed


def figures_of(names: Sequence[str]) -> list[str]:
    """Expand ``all`` and check the names (raises :class:`ReproduceError`)."""
    out: list[str] = []
    for name in names:
        if name == "all":
            out += [f for f in FIGURES if f not in out]
        elif name in MODULES:
            if name not in out:
                out.append(name)
        else:
            raise ReproduceError(
                f"unknown figure {name!r}; choose from {', '.join(FIGURES)} or all"
            )
    if not out:
        raise ReproduceError(f"give a figure: {', '.join(FIGURES)} or all")
    return out


def declared_jobs(figures: Sequence[str], settings: Settings) -> list[jobs.Job]:
    """Every job the figures need, each once."""
    return jobs.unique([j for f in figures for j in MODULES[f].jobs(settings)])


def reproduce(
    figures: Sequence[str],
    *,
    scale: str,
    out: str | Path,
    data_dir: str | Path | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    reporter: jobs.Reporter | None = None,
) -> dict[str, Any]:
    """Make ``figures`` (names or ``"all"``) at ``scale`` into ``out``; write the report.

    Returns ``{"claims": [...], "failed": {...}, "json": path, "html": path,
    "seconds": wall time}``. Raises :class:`ReproduceError` for a bad request, recorded
    data that cannot be read, or an ``out`` that holds something else (before anything
    runs), and
    :class:`ReproduceFailure` after writing the report when a job or a figure failed.
    """
    reporter = reporter or jobs.Reporter()
    started = time.monotonic()
    names = figures_of(figures)
    settings = Settings(scale, Path(data_dir) if data_dir is not None else default_data_dir())
    declared = declared_jobs(names, settings)  # validates presets before anything is written
    # Recorded data are read before anything is written, too (a corrupt file: exit 2).
    jobs.check_data(Workspace(Path(out), scale), declared)
    ws = open_workspace(out, scale)
    jobs.check_sweeps(ws, declared)  # a sweep of another plan there: before the runs
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(store.hold(ws.root))
        except store.StoreError:
            raise ReproduceError(
                f"--out {ws.root}: another repdrift reproduce is writing there"
            ) from None
        failed = _compute(ws, names, settings, declared, workers, scheduler, reporter)
    results = {f: ws.read_results(f) for f in FIGURES}
    evaluated = claims_mod.evaluate(results)
    titles = {f: MODULES[f].TITLE for f in FIGURES}
    json_path, html_path = report.write(ws, evaluated, results, titles)
    summary = {
        "claims": evaluated,
        "failed": failed,
        "json": json_path,
        "html": html_path,
        "seconds": time.monotonic() - started,
        "workspace": ws,
    }
    if failed:
        lines = "; ".join(f"{k}: {v}" for k, v in failed.items())
        raise ReproduceFailure(f"{lines} (the report in {ws.root} says what was checked)")
    return summary
