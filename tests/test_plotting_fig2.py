"""Fig. 2 figures of stored runs: files written, valid and not blank; sorting and helpers."""

from __future__ import annotations

import dataclasses
import os
import sys

import matplotlib as mpl
import matplotlib.image
import numpy as np
import pytest
import xarray as xr

from repdrift.config import load_config
from repdrift.metrics import drift
from repdrift.plotting import fig2
from repdrift.simulation import simulate

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ALL = {"loss", "activity", "spatial_information", "rate_maps", "drift", "summary"}
NON_SPATIAL = {"loss", "activity", "summary"}
TINY = [
    "network.hidden=16",
    "run.steps=200",
    "learner.lr=0.5",
    "learner.update_noise=0.02",
    "record.dense_until=10",
    "record.per_decade=5",
    "record.snapshots=5",
]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A tiny corridor run and a random-mapping run with the same array shapes.

    Equal samples, input and output sizes let the second run reuse the compiled engine.
    """
    root = tmp_path_factory.mktemp("runs")
    corridor = simulate(
        load_config(overrides=[*TINY, "record.bins=10", "task.samples=60"]), root / "corridor"
    )
    d_in = corridor.snapshots.sizes["input"]
    d_out = corridor.snapshots.sizes["output"]
    random = simulate(
        load_config(
            overrides=[
                *TINY,
                'task.kind="random"',
                "task.samples=60",
                f"task.d_in={d_in}",
                f"task.d_out={d_out}",
            ]
        ),
        root / "random",
    )
    return corridor, random


@pytest.fixture(scope="module")
def corridor_figures(runs, tmp_path_factory):
    out = tmp_path_factory.mktemp("figs") / "corridor"  # not created yet: draw_fig2 makes it
    pyplot = sys.modules.get("matplotlib.pyplot")
    open_before = len(pyplot.get_fignums()) if pyplot else 0
    rc_before = _rc()
    paths = fig2.draw_fig2(runs[0], out)
    pyplot = sys.modules.get("matplotlib.pyplot")
    open_after = len(pyplot.get_fignums()) if pyplot else 0
    return paths, out, rc_before == _rc(), open_after - open_before


def _rc():
    # Reading rcParams["backend"] would itself resolve (and so change) the backend.
    return {k: mpl.rcParams[k] for k in mpl.rcParams if k != "backend"}


def _check_png(path):
    assert path.read_bytes()[:8] == PNG_SIGNATURE, path
    image = matplotlib.image.imread(path)
    assert image.shape[0] > 100 and image.shape[1] > 100, (path, image.shape)
    assert image[..., :3].std() > 0.05, f"{path} is blank"


def _check_pdf(path):
    data = path.read_bytes()
    assert data.startswith(b"%PDF"), path
    assert b"%%EOF" in data[-32:], path


def test_corridor_run_gives_every_figure_as_png_and_pdf(corridor_figures):
    paths, out, _, _ = corridor_figures
    expected = {out / f"{name}.{fmt}" for name in ALL for fmt in ("png", "pdf")}
    assert set(paths) == expected
    assert len(paths) == len(expected)  # each written once
    for path in paths:
        assert path.is_file()
        (_check_png if path.suffix == ".png" else _check_pdf)(path)


def test_drawing_leaves_no_global_state(corridor_figures):
    _, _, rc_unchanged, new_open_figures = corridor_figures
    assert rc_unchanged
    assert new_open_figures == 0


def test_random_task_skips_spatial_figures(runs, tmp_path):
    _, random = runs
    assert "rate_map" not in random.snapshots
    paths = fig2.draw_fig2(random, tmp_path)
    assert {p.name for p in paths} == {f"{n}.{f}" for n in NON_SPATIAL for f in ("png", "pdf")}
    for name in ALL - NON_SPATIAL:
        assert not list(tmp_path.glob(f"{name}.*"))
    for path in paths:
        (_check_png if path.suffix == ".png" else _check_pdf)(path)


def test_a_folder_name_that_is_not_utf8_is_drawn_replaced(runs, tmp_path):
    # Linux allows any bytes in a name; Python keeps them as lone surrogates, which the
    # PDF writer refused with a traceback after the run was stored.
    _, random = runs
    odd = dataclasses.replace(random, path=random.path.with_name(os.fsdecode(b"bad\xffname")))
    paths = fig2.draw_fig2(odd, tmp_path, figures=["summary"])
    assert sorted(p.name for p in paths) == ["summary.pdf", "summary.png"]
    for path in paths:
        (_check_png if path.suffix == ".png" else _check_pdf)(path)


def test_chosen_figures_formats_and_rate_map_steps(runs, tmp_path):
    corridor, random = runs
    steps = corridor.snapshots["step"].values
    paths = fig2.draw_fig2(
        corridor,
        tmp_path,
        formats=("svg", "png"),
        figures=["rate_maps"],
        rate_map_steps=[int(steps[1]), int(steps[-1])],
    )
    assert paths == [tmp_path / "rate_maps.svg", tmp_path / "rate_maps.png"]
    assert b"<svg" in paths[0].read_bytes()[:500]
    _check_png(paths[1])
    assert fig2.draw_fig2(random, tmp_path / "none", figures=["drift"]) == []


def test_available_figures_follow_the_data(runs):
    corridor, random = runs
    assert fig2.available_figures(corridor) == fig2.FIGURES
    assert set(fig2.available_figures(random)) == NON_SPATIAL


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"formats": ()}, "formats"),
        ({"figures": ["loss", "fig9"]}, "unknown"),
        ({"rate_map_steps": [7]}, "not snapshot steps"),
        ({"rate_map_steps": []}, "not snapshot steps"),
    ],
)
def test_bad_arguments_are_refused_with_a_message(runs, tmp_path, kwargs, message):
    corridor, _ = runs
    if "rate_map_steps" in kwargs:
        assert 7 not in corridor.snapshots["step"].values
    with pytest.raises(ValueError, match=message):
        fig2.draw_fig2(corridor, tmp_path, **kwargs)
    assert not list(tmp_path.iterdir())


def _records(steps, loss, active_units_fraction):
    return xr.Dataset(
        {
            "loss": ("step", loss),
            "active_fraction": ("step", active_units_fraction / 2),
            "fraction_active_units": ("step", active_units_fraction),
            "status": ("step", np.zeros(steps.size, np.int32)),
        },
        coords={"step": steps},
    )


def test_phases_are_marked_and_broken_records_still_drawn(runs, tmp_path):
    # Records with a clear sparsification (τ = 8000 steps after a fast loss drop), and
    # records of a run whose loss blew up after three steps.
    _, random = runs
    steps = np.unique(np.r_[np.arange(100), np.geomspace(100, 1e5, 200).astype(int)])
    noise = 0.01 * np.random.default_rng(2).standard_normal(steps.size)
    sparsifying = _records(
        steps,
        0.05 + 3 * np.exp(-steps / 20),
        0.2 + 0.8 * np.exp(-np.maximum(steps - 50, 0) / 8000) + noise,
    )
    phases = fig2.run_phases(sparsifying)
    assert phases.fit.ok and phases.directed_drift_end is not None
    loss = np.where(steps < 3, 1.0, np.inf)
    broken = _records(steps, loss, np.where(steps < 3, 1.0, np.nan))
    assert fig2.run_phases(broken) is None
    for name, records, figures in [
        ("sparsifying", sparsifying, ["activity"]),
        ("broken", broken, ["loss", "activity"]),
    ]:
        paths = fig2.draw_fig2(
            dataclasses.replace(random, metrics=records),
            tmp_path / name,
            formats=("png",),
            figures=figures,
        )
        assert [p.stem for p in paths] == figures
        for path in paths:
            _check_png(path)


# ------------------------------------------------------------------------ helpers


def test_peak_order_puts_peaks_in_increasing_bin_order():
    rng = np.random.default_rng(0)
    peaks = rng.permutation(8)
    maps = 0.1 * rng.random((8, 12))
    maps[np.arange(8), peaks] = 1.0
    order = fig2.peak_order(maps)
    np.testing.assert_array_equal(np.argmax(maps[order], axis=1), np.sort(peaks))
    np.testing.assert_array_equal(order, np.argsort(peaks))


def test_peak_order_keeps_only_chosen_units_ignores_nan_and_is_stable():
    maps = np.array(
        [
            [0.0, 0.0, 3.0, 0.0],  # peak 2
            [np.nan, 1.0, 0.0, 0.0],  # peak 1: the NaN bin is not a peak
            [0.0, 0.0, 5.0, 0.0],  # peak 2, after unit 0 (stable)
            [9.0, 0.0, 0.0, 0.0],  # peak 0, left out below
        ]
    )
    np.testing.assert_array_equal(fig2.peak_order(maps), [3, 1, 0, 2])
    keep = np.array([True, True, True, False])
    np.testing.assert_array_equal(fig2.peak_order(maps, keep), [1, 0, 2])
    assert fig2.peak_order(maps, np.zeros(4, bool)).size == 0
    with pytest.raises(ValueError, match="unit, bin"):
        fig2.peak_order(maps[None])


def test_rows_are_normalised_to_their_max_with_nan_kept():
    maps = np.array([[1.0, 4.0, np.nan], [0.0, 0.0, np.nan], [2.0, 1.0, 0.5]])
    np.testing.assert_allclose(
        fig2._normalise_rows(maps),
        [[0.25, 1.0, np.nan], [0.0, 0.0, np.nan], [1.0, 0.5, 0.25]],
    )


@pytest.mark.parametrize(
    ("count", "n", "expected"),
    [(19, 4, [0, 6, 12, 18]), (3, 4, [0, 1, 2]), (2, 4, [0, 1]), (0, 4, [])],
)
def test_pick_snapshots_spreads_first_to_last(count, n, expected):
    np.testing.assert_array_equal(fig2.pick_snapshots(np.arange(count) * 10, n), expected)


def test_drift_matrix_of_identical_snapshots_is_one_and_of_a_reversal_minus_one():
    # The drift figure's matrix: identical snapshots correlate perfectly everywhere,
    # spatially reversed maps anti-correlate; silent units and NaN bins do not count.
    rng = np.random.default_rng(1)
    base = rng.random((6, 10))
    base[0] = 0.0  # a silent unit
    base[:, 3] = np.nan  # an unvisited bin
    same = drift.rate_map_correlation_matrix(np.stack([base, base, base]))
    np.testing.assert_allclose(same, np.ones((3, 3)))
    flipped = np.where(np.isfinite(base), 1.0 - base, np.nan)
    flipped[0] = 0.0
    r = drift.rate_map_correlation_matrix(np.stack([base, flipped]))
    np.testing.assert_allclose(r, [[1.0, -1.0], [-1.0, 1.0]])
