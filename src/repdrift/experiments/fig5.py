"""Fig. 5: the mechanism — noisy learning drifts towards flatter minima.

* **A** — the 2-D toy loss ``L = x² y²`` (:mod:`repdrift.models.toy`; the presets
  ``toy-manifold`` and ``toy-manifold-label`` with 20,000 particles: the standard error of
  the measured drift of ``log|x|`` over steps 500–2,000 is then ≈ 5 % of it, with the
  presets' 1,000 ≈ 25 %). Particles from (3, 0.01) under update noise drift along the
  zero-loss x-axis towards the origin, where the valley is flat: ``E[Δ log|x|] ≈
  −η²σ²/x²`` per step while ``E[x²]`` stays constant. With label noise ``x`` — and the
  Hessian's trace ``2x²`` — decay as ``x₀ exp(−2η²s²t)``; without noise nothing moves
  once ``y`` has converged.
* **B** — across the ``fig4b`` runs, the fraction of non-zero Hessian eigenvalues against
  the fraction of active units, pooled and within each task (the published runs: r ≈ 0.96
  pooled, 0.97–0.98 within a task; see :func:`correlation_numbers` for why within).
* **C, D** — the whole Hessian spectrum (:func:`repdrift.metrics.hessian.hessian_eigenvalues`
  on stored snapshot parameters) just after the loss converged and at the end, under
  update noise (C: non-zero eigenvalues vanish) and label noise (D: the eigenvalues
  shrink, the trace falls), for two runs of the Fig. 4B shape
  (20 → 100 → 5, 5 samples, lr 0.1): ``fig5-update`` (σ_u = 0.05) and ``fig5-label``
  (uniform label noise, s = 1).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from repdrift.config import load_config
from repdrift.experiments import reference, sweep_runs, sweeps
from repdrift.experiments.jobs import Job, RunJob
from repdrift.experiments.settings import Settings
from repdrift.experiments.workspace import Workspace, save_figure, save_table

NAME = "fig5"
TITLE = "Fig. 5 — the mechanism: drift to flatter regions of the zero-loss manifold"

#: Relative tolerance of a non-zero eigenvalue (:func:`repdrift.metrics.hessian.hessian_summary`).
RTOL = 1e-10


def toy_config(noise: str, scale: str):
    preset = "toy-manifold-label" if noise == "label" else "toy-manifold"
    overrides = [] if noise != "none" else ["model.noise=none"]
    if scale == "quick":
        overrides += ["model.particles=20000"]
    elif scale == "paper":
        overrides += ["model.particles=20000", "run.steps=100000"]
    elif scale == "smoke":
        overrides += ["model.particles=200", "run.steps=2500"]
    return load_config(preset=preset, overrides=overrides)


def spectrum_config(noise: str, scale: str):
    steps = {"smoke": 3_000, "quick": 500_000, "paper": 10_000_000}[scale]
    learner = (
        {"kind": "gd", "lr": 0.1, "update_noise": 0.05}
        if noise == "update"
        else {"kind": "gd", "lr": 0.1, "label_noise": 1.0, "label_noise_dist": "uniform"}
    )
    return load_config(
        {
            "task": {"kind": "random", "samples": 5, "d_in": 20, "d_out": 5},
            "network": {"hidden": 100, "readout": "lazy"},
            "learner": learner,
            "record": {
                "dense_until": 100,
                "per_decade": 30,
                "snapshots": 16,
                "linear_snapshots": 10,
                "hessian": "exact",
            },
            "run": {"steps": steps, "seed": 11, "checkpoint_every_s": 60.0},
        }
    )


def jobs(settings: Settings) -> list[Job]:
    s = settings.scale
    return [
        RunJob("toy-update", toy_config("update", s), NAME),
        RunJob("toy-label", toy_config("label", s), NAME),
        RunJob("toy-noise-free", toy_config("none", s), NAME),
        sweeps.fig4b_job(settings, NAME),
        RunJob("fig5-update", spectrum_config("update", s), NAME),
        RunJob("fig5-label", spectrum_config("label", s), NAME),
    ]


# ------------------------------------------------------------------------- numbers


def _slope(steps: np.ndarray, values: np.ndarray) -> float:
    return float(np.polyfit(np.asarray(steps, float), np.asarray(values, float), 1)[0])


def toy_update_numbers(
    steps,
    mean_log_abs_x,
    mean_x2,
    x_final,
    lr: float,
    sigma: float,
    x0: float,
    window: tuple[float, float] = (500.0, 2000.0),
) -> dict[str, float]:
    """Update noise on the toy: the measured drift of ``log|x|`` per step over ``window``
    against ``−η²σ²/x₀²``, the change of ``E[x²]``, and where the particles ended."""
    steps = np.asarray(steps, float)
    inside = (steps >= window[0]) & (steps <= window[1])
    measured = _slope(steps[inside], np.asarray(mean_log_abs_x)[inside])
    theory = -(lr**2) * sigma**2 / x0**2
    x_final = np.asarray(x_final, float)
    mean_x2 = np.asarray(mean_x2, float)
    return {
        "drift_log_abs_x_per_step": measured,
        "drift_log_abs_x_theory": theory,
        "drift_ratio": measured / theory,
        "window": list(window),
        "mean_x2_initial": float(mean_x2[0]),
        "mean_x2_final": float(mean_x2[-1]),
        "mean_x2_relative_change": float(mean_x2[-1] / mean_x2[0] - 1.0),
        "median_abs_x_final": float(np.median(np.abs(x_final))),
        "fraction_nearer_origin": float(np.mean(np.abs(x_final) < x0)),
        "mean_log_abs_x_change": float(mean_log_abs_x[-1] - mean_log_abs_x[0]),
    }


def toy_label_numbers(
    steps, mean_x, hessian_trace, lr: float, s: float, x0: float, at: float = 2000.0
) -> dict[str, float]:
    """Label noise on the toy: ``E[x]`` against ``x₀ exp(−2η²s²t)`` at step ``at`` and at
    the end, and the fall of the Hessian's trace."""
    steps = np.asarray(steps, float)
    mean_x = np.asarray(mean_x, float)
    i = min(int(np.searchsorted(steps, at)), len(steps) - 1)
    theory = x0 * np.exp(-2 * lr**2 * s**2 * steps)
    trace = np.asarray(hessian_trace, float)
    return {
        "step": float(steps[i]),
        "mean_x": float(mean_x[i]),
        "mean_x_theory": float(theory[i]),
        "ratio": float(mean_x[i] / theory[i]),
        "mean_x_final": float(mean_x[-1]),
        "mean_x_final_theory": float(theory[-1]),
        "trace_initial": float(trace[0]),
        "trace_final": float(trace[-1]),
        "trace_final_over_initial": float(trace[-1] / trace[0]),
    }


def toy_control_numbers(steps, mean_x) -> dict[str, float]:
    """Noise-free GD on the toy: how far ``E[x]`` moved after the first 100 steps."""
    steps = np.asarray(steps, float)
    mean_x = np.asarray(mean_x, float)
    i = min(int(np.searchsorted(steps, 100.0)), len(steps) - 1)
    return {
        "mean_x_at_100": float(mean_x[i]),
        "mean_x_final": float(mean_x[-1]),
        "relative_change": float(mean_x[-1] / mean_x[i] - 1.0),
    }


#: A task's correlation is reported, and counts towards ``r_within_min``, from this many
#: runs on.
MIN_TASK_RUNS = 5


def correlation_numbers(eig_nonzero, active_units, tasks=None) -> dict[str, Any]:
    """Pearson r of the fraction of non-zero eigenvalues with the fraction of active
    units across runs (``r``), and with ``tasks`` (each run's task) within each task of at
    least :data:`MIN_TASK_RUNS` runs (``by_task``) and the smallest of those
    (``r_within_min``).

    Within a task is where the two counts can be compared: the number of non-zero
    eigenvalues is bounded by the rank of the curvature, which grows with the outputs per
    unit, so tasks with other output sizes lie on other lines (the ring's 20 outputs
    against 5). The original's count (``λ > 0``, round-off included) does not show this:
    about half the round-off eigenvalues of a live unit's parameters are positive, so it
    counts a fixed share of the live parameters in every task (docs/reproduce.md)."""
    a = np.asarray(eig_nonzero, float)
    b = np.asarray(active_units, float)
    ok = np.isfinite(a) & np.isfinite(b)

    def r_of(mask: np.ndarray) -> float:
        return float(np.corrcoef(a[mask], b[mask])[0, 1]) if mask.sum() >= 3 else np.nan

    out: dict[str, Any] = {"runs": int(ok.sum()), "r": r_of(ok)}
    if tasks is not None:
        tasks = np.asarray(tasks, dtype=object)
        masks = {str(task): ok & (tasks == task) for task in sorted(set(tasks[ok].tolist()))}
        by_task = {
            task: {"runs": int(mask.sum()), "r": r_of(mask)}
            for task, mask in masks.items()
            if mask.sum() >= MIN_TASK_RUNS
        }
        within = [v["r"] for v in by_task.values() if np.isfinite(v["r"])]
        out["by_task"] = by_task
        out["r_within_min"] = float(min(within)) if within else np.nan
    return out


def spectrum_at(run, index: int) -> np.ndarray:
    """The Hessian's eigenvalues (descending) at snapshot ``index`` of a network run."""
    from repdrift.metrics.hessian import hessian_eigenvalues

    s = run.snapshots.isel(step=index)
    params = {k: np.asarray(s[k].values, np.float64) for k in ("W1", "b1", "W2")}
    return hessian_eigenvalues(
        params, run.dataset.inputs, run.dataset.targets, act=run.config.network.activation
    )


def spectrum_numbers(ev: np.ndarray) -> dict[str, float]:
    from repdrift.metrics.hessian import hessian_summary

    summary = hessian_summary(ev, rtol=RTOL)
    return {
        "n_nonzero": summary.n_nonzero,
        "fraction_nonzero": summary.fraction_nonzero,
        "trace": summary.trace,
        "log_sum": summary.log_sum,
        "max": summary.max,
        "n_params": summary.n_params,
    }


def two_times(run) -> tuple[int, int]:
    """Snapshot indices: the first at or after the loss plateau, and the last."""
    from repdrift.metrics.timescale import loss_plateau_step

    m = run.metrics
    plateau = loss_plateau_step(m["step"].values, m["loss"].values)
    steps = run.snapshots["step"].values
    first = min(int(np.searchsorted(steps, plateau)), len(steps) - 1)
    return first, len(steps) - 1


def make(ws: Workspace, settings: Settings) -> dict[str, Any]:
    from repdrift.plotting.fig5 import draw_a, draw_b, draw_spectra
    from repdrift.plotting.toy import draw_toy
    from repdrift.runs import open_run

    folder = ws.figure_dir(NAME)
    files: list[Path] = []
    numbers: dict[str, Any] = {}

    # A
    upd = open_run(ws.run_path("toy-update"))
    lab = open_run(ws.run_path("toy-label"))
    ctl = open_run(ws.run_path("toy-noise-free"))
    mu, ml, mc = upd.metrics, lab.metrics, ctl.metrics
    pu, pl = upd.config.model, lab.config.model
    numbers["a"] = {
        "update": toy_update_numbers(
            mu["step"].values,
            mu["mean_log_abs_x"].values,
            mu["mean_x2"].values,
            mu["x"].values[-1],
            pu.lr,
            pu.noise_std,
            pu.x0,
        ),
        "label": toy_label_numbers(
            ml["step"].values,
            ml["mean_x"].values,
            ml["hessian_trace"].values,
            pl.lr,
            pl.noise_std,
            pl.x0,
        ),
        "noise_free": toy_control_numbers(mc["step"].values, mc["mean_x"].values),
        "particles": pu.particles,
        "steps": upd.config.run.steps,
    }
    files += save_figure(draw_a(upd, lab, ctl, numbers["a"]), folder, "fig5a")
    files += draw_toy(mu, folder / "toy-update")
    files += draw_toy(ml, folder / "toy-label")
    toy_frames = [
        pd.DataFrame(
            {
                "run": name,
                "step": r.metrics["step"].values,
                **{
                    k: r.metrics[k].values
                    for k in ("mean_x", "mean_log_abs_x", "mean_x2", "hessian_trace")
                },
            }
        )
        for r, name in ((upd, "toy-update"), (lab, "toy-label"), (ctl, "toy-noise-free"))
    ]
    files.append(save_table(pd.concat(toy_frames), folder, "fig5a"))

    # B
    b_table = sweep_runs.read_table(ws.sweep_path(sweeps.FIG4B))
    # the runs the original's table holds (collector.py): complete, the loss never above
    # 10 at its records, not silent (repdrift.sweep.summary)
    done = b_table[b_table["included"].astype(bool)]
    ours = pd.DataFrame(
        {
            "run": done["run"],
            "noise": done["learner.update_noise"],
            "active_units": done["active_units"],
            "eig_nonzero": done["eig_nonzero"],
            "task": done["task.kind"],
        }
    )
    pub = reference.update_noise_runs()
    numbers["b"] = {
        "ours": correlation_numbers(ours["eig_nonzero"], ours["active_units"], ours["task"]),
        "published": correlation_numbers(pub["eig_nonzero"], pub["active_units"], pub["task"]),
        "rtol": RTOL,
    }
    files += save_figure(draw_b(ours, pub, numbers["b"]), folder, "fig5b")
    files.append(save_table(ours, folder, "fig5b"))

    # C, D
    spectra: dict[str, dict[str, Any]] = {}
    rows = []
    for kind in ("update", "label"):
        run = open_run(ws.run_path(f"fig5-{kind}"))
        steps = run.snapshots["step"].values
        item: dict[str, Any] = {"spectra": [], "numbers": []}
        for index in two_times(run):
            ev = spectrum_at(run, index)
            step = int(steps[index])
            item["spectra"].append((step, ev))
            item["numbers"].append({"step": step, **spectrum_numbers(ev)})
            rows.append(
                pd.DataFrame(
                    {
                        "run": f"fig5-{kind}",
                        "step": step,
                        "rank": np.arange(ev.size),
                        "eigenvalue": ev,
                    }
                )
            )
        first, last = item["numbers"]
        item["summary"] = {
            "n_nonzero_ratio": last["n_nonzero"] / first["n_nonzero"],
            "trace_ratio": last["trace"] / first["trace"],
            "log_sum_change": last["log_sum"] - first["log_sum"],
            "max_ratio": last["max"] / first["max"],
            "fraction_active_units_final": float(run.metrics["fraction_active_units"].values[-1]),
        }
        spectra[kind] = item
    files += save_figure(draw_spectra(spectra, RTOL), folder, "fig5cd")
    files.append(save_table(pd.concat(rows), folder, "fig5cd_spectra"))
    numbers["cd"] = {
        k: {"times": v["numbers"], "summary": v["summary"]} for k, v in spectra.items()
    }
    numbers["files"] = [ws.relative(f) for f in files]
    return numbers
