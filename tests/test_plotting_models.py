"""Figures of the toy loss (Fig. 5A) and the similarity-matching network (Fig. 4C):
files written, valid and not blank; the phase rule on curves with known phases."""

from __future__ import annotations

import jax
import matplotlib.image
import numpy as np
import pytest
import xarray as xr

from repdrift.models import toy
from repdrift.plotting import hebbian
from repdrift.plotting import toy as toy_plots

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _check_files(paths, names, formats=("png", "pdf")):
    assert [p.name for p in paths] == [f"{n}.{f}" for n in names for f in formats]
    for p in paths:
        head = p.read_bytes()[:8]
        if p.suffix == ".png":
            assert head == PNG_SIGNATURE
            image = matplotlib.image.imread(p)
            assert image.shape[0] > 200 and image.shape[1] > 200
            assert image[..., :3].std() > 0.05  # not blank
        else:
            assert head.startswith(b"%PDF")


@pytest.fixture(scope="module")
def toy_metrics():
    """One update-noise run of 200 particles: records at steps 0, 50, ..., 1000."""
    params = toy.ToyParams(particles=200, y0=0.2)
    model, data, hyper = toy.make_model(params), toy.make_data(None, params), toy.make_hyper(params)

    @jax.jit
    def run(key):
        state = model.init(key, data, hyper)

        def chunk(s, _):
            s, _ = jax.lax.scan(lambda s, _: model.step(s, data, hyper), s, None, 50)
            return s, model.measure(s, data)

        return model.measure(state, data), jax.lax.scan(chunk, state, None, 20)[1]

    first, recs = run(jax.random.key(0))
    variables = {
        k: (
            ("step", *model.record_dims.get(k, ())),
            np.concatenate([np.asarray(first[k])[None], np.asarray(v)]),
        )
        for k, v in recs.items()
    }
    return xr.Dataset(variables, coords={"step": np.arange(21) * 50})


def test_toy_figures_are_written(toy_metrics, tmp_path):
    paths = toy_plots.draw_toy(toy_metrics, tmp_path / "figs")
    _check_files(paths, toy_plots.FIGURES)
    svg = toy_plots.draw_toy(toy_metrics, tmp_path / "svg", formats=("svg",), trajectories=2)
    assert [p.name for p in svg] == ["toy_landscape.svg", "toy_x.svg"]


def test_toy_landscape_frames_every_position_and_the_origin(toy_metrics):
    x, y = toy_metrics["x"].values, toy_metrics["y"].values
    x_lo, x_hi, y_lo, y_hi = toy_plots.landscape_extent(x, y)
    assert x_lo < min(0.0, x.min()) and x_hi > x.max()
    assert y_lo < y.min() and y_hi > y.max() and y_lo == -y_hi


def test_toy_figures_reject_bad_input(toy_metrics, tmp_path):
    with pytest.raises(ValueError, match="formats"):
        toy_plots.draw_toy(toy_metrics, tmp_path, formats=())
    with pytest.raises(ValueError, match="missing"):
        toy_plots.draw_toy(toy_metrics.drop_vars("y"), tmp_path)
    stacked = toy_metrics.expand_dims(run=2)
    with pytest.raises(ValueError, match="one run"):
        toy_plots.draw_toy(stacked, tmp_path)


# ------------------------------------------------------------------------ Fig. 4C


STEPS = np.arange(0, 3001, 25)


def synthetic_run():
    """Objective 0.5 + 0.5 e^{−t/20}; active neurons 0.4 + 0.6 e^{−t/300}.

    Phase rule (plotting/hebbian.py): the objective is within 5 % of its final 0.5 when
    e^{−t/20} ≤ 0.05, t ≥ 20 ln 20 = 59.9 → first record 75 (a running median leaves a
    monotone curve unchanged). The exponential fitted from 75 on is exact, τ = 300;
    directed drift ends at the first record ≥ 75 + 300 ln 20 = 973.7, i.e. 975.
    """
    loss = 0.5 + 0.5 * np.exp(-STEPS / 20)
    units = 0.4 + 0.6 * np.exp(-STEPS / 300)
    metrics = xr.Dataset(
        {
            "loss": ("step", loss),
            "fraction_active_units": ("step", units),
            "active_fraction": ("step", 0.5 * units),
        },
        coords={"step": STEPS},
    )
    rng = np.random.default_rng(0)
    snap_steps = STEPS[::8]
    walk = np.cumsum(rng.normal(scale=0.05, size=(snap_steps.size, 20)), axis=0)
    cent = np.mod(walk + rng.uniform(0, 2 * np.pi, 20), 2 * np.pi)
    cent[3:6, 0] = np.nan  # a neuron without a field for a while
    centroid = xr.DataArray(cent, dims=("step", "neuron"), coords={"step": snap_steps})
    return metrics, centroid


def test_phases_of_a_curve_with_known_phases():
    metrics, _ = synthetic_run()
    phases = hebbian.hebbian_phases(
        STEPS, metrics["loss"].values, metrics["fraction_active_units"].values
    )
    assert phases.fast_learning_end == 75
    assert phases.fit.ok and phases.fit.tau_steps == pytest.approx(300, rel=1e-3)
    assert phases.directed_drift_end == 975
    assert hebbian.phase_spans(phases, 3000.0) == [
        ("fast learning", 0.0, 75.0),
        ("directed drift", 75.0, 975.0),
        ("null drift", 975.0, 3000.0),
    ]


def test_phases_without_an_end_of_directed_drift():
    """A fall still going at the end of the run: no null-drift phase is claimed."""
    units = 0.4 + 0.6 * np.exp(-STEPS / 3000)
    loss = 0.5 + 0.5 * np.exp(-STEPS / 20)
    phases = hebbian.hebbian_phases(STEPS, loss, units)
    assert phases.directed_drift_end is None
    spans = hebbian.phase_spans(phases, 3000.0)
    assert [name for name, _, _ in spans] == ["fast learning", "directed drift"]
    assert spans[-1][2] == 3000.0


def test_hebbian_figures_are_written(tmp_path):
    metrics, centroid = synthetic_run()
    paths = hebbian.draw_hebbian(metrics, tmp_path, centroid=centroid, period=2 * np.pi)
    _check_files(paths, hebbian.FIGURES)
    only_phases = hebbian.draw_hebbian(metrics, tmp_path / "no_snapshots", formats=("png",))
    assert [p.name for p in only_phases] == ["hebbian_phases.png"]
    line = hebbian.draw_hebbian(metrics, tmp_path / "line", centroid=centroid / 7, formats=("png",))
    assert [p.name for p in line] == ["hebbian_phases.png", "hebbian_drift.png"]


def test_hebbian_figures_reject_bad_input(tmp_path):
    metrics, centroid = synthetic_run()
    with pytest.raises(ValueError, match="missing"):
        hebbian.draw_hebbian(metrics.drop_vars("loss"), tmp_path)
    with pytest.raises(ValueError, match="at least 5"):
        hebbian.draw_hebbian(metrics.isel(step=slice(0, 3)), tmp_path)
    with pytest.raises(ValueError, match="centroid"):
        hebbian.draw_hebbian(metrics, tmp_path, centroid=centroid.rename(neuron="unit"))
    with pytest.raises(ValueError, match="formats"):
        hebbian.draw_hebbian(metrics, tmp_path, formats=())
