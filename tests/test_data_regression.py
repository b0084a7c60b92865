"""Trends across sessions and rate-map drift (repdrift.data.regression), and the figure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from repdrift.data import (
    SessionResult,
    linear_trend,
    normalise_to_first,
    rate_map_drift,
    session_table,
    trend_regressions,
)
from repdrift.plotting.fig3 import mean_sem, plot_fig3


def test_linear_trend_matches_the_t_test_of_the_slope():
    x = np.array([0, 1, 2, 3, 4, 5, 6, 7.0])
    y = np.array([1.0, 1.1, 0.95, 1.3, 1.2, 1.5, 1.4, 1.6])
    fit = linear_trend(x, y)
    slope, intercept = np.polyfit(x, y, 1)
    residuals = y - (intercept + slope * x)
    stderr = np.sqrt(residuals @ residuals / (x.size - 2) / ((x - x.mean()) ** 2).sum())
    p = 2 * stats.t.sf(abs(slope / stderr), x.size - 2)
    assert fit["slope"] == pytest.approx(slope) and fit["intercept"] == pytest.approx(intercept)
    assert fit["stderr"] == pytest.approx(stderr) and fit["p_value"] == pytest.approx(p)
    assert fit["n"] == 8
    exact = linear_trend(x, 2 - 0.25 * x)
    assert exact["slope"] == pytest.approx(-0.25) and exact["p_value"] < 1e-12
    flat = linear_trend(x, np.ones(8))
    assert flat["slope"] == 0 and flat["p_value"] == 1.0
    short = linear_trend([0, 1, np.nan], [1, 2, 3])
    assert short["n"] == 2 and np.isnan(short["slope"])


def _table() -> pd.DataFrame:
    rows = []
    for animal, track, first_day, base, step in (
        ("m1", "A", 3, 0.4, 0.02),
        ("m1", "B", 3, 0.5, 0.03),
        ("m2", "A", 11, 0.2, 0.01),
    ):
        for k in range(4):
            rows.append(
                {
                    "animal": animal,
                    "track": track,
                    "session": k + 1,
                    "day": first_day + k,
                    "fraction_place": base + step * k,
                }
            )
    return pd.DataFrame(rows)


def test_normalisation_to_the_first_session_of_each_series():
    table = normalise_to_first(_table(), ["fraction_place"])
    m2 = table[table.animal == "m2"]
    np.testing.assert_allclose(m2.elapsed_days, [0, 1, 2, 3])
    np.testing.assert_allclose(m2.fraction_place_norm, (0.2 + 0.01 * np.arange(4)) / 0.2)
    b = table[(table.animal == "m1") & (table.track == "B")]
    np.testing.assert_allclose(b.fraction_place_norm, 1 + 0.06 * np.arange(4))


def test_trend_regressions_per_series_animal_and_pooled():
    table = normalise_to_first(_table(), ["fraction_place"])
    trends = trend_regressions(table, ["fraction_place"])["fraction_place"]
    assert trends["per_series"]["m1/B"]["slope"] == pytest.approx(0.06)
    assert trends["per_series"]["m2/A"]["slope"] == pytest.approx(0.05)
    assert trends["per_series"]["m1/A"]["slope"] == pytest.approx(0.05)
    assert trends["per_animal"]["m1"]["slope"] == pytest.approx(0.055)  # both tracks' points
    pooled = trends["pooled"]
    assert pooled["n"] == 12
    assert pooled["slope"] == pytest.approx(np.mean([0.05, 0.06, 0.05]))
    assert pooled["intercept"] == pytest.approx(1.0) and pooled["p_value"] < 1e-6


def _result(session: int, day: float, cell_ids, maps, place=None) -> SessionResult:
    cells = len(cell_ids)
    nan2 = np.full((cells, 2), np.nan)
    return SessionResult(
        animal="m",
        track="A",
        session=session,
        day=day,
        day_known=True,
        source="",
        n_cells=cells,
        n_frames=100,
        n_running_frames=80,
        n_active=cells,
        n_place=cells,
        mean_si_naive=1.0,
        mean_si_ssr=0.8,
        mean_si_bae=0.7,
        n_corrected=0,
        mean_si_naive_corrected_cells=np.nan,
        active=np.ones(cells, bool),
        place=np.ones(cells, bool) if place is None else np.asarray(place),
        si_naive=nan2,
        p_value=np.ones((cells, 2)),
        si_ssr=nan2,
        si_bae=nan2,
        events=np.zeros((cells, 2), int),
        rate_maps=np.asarray(maps, float),
        occupancy=np.ones(np.shape(maps)[1]),
        cell_ids=np.asarray(cell_ids),
    )


def test_rate_map_drift_pairs_registered_cells():
    rng = np.random.default_rng(0)
    maps = rng.random((4, 10))
    first = _result(1, 1.0, [0, 1, 2, 3], maps)
    # Same maps in another column order, one cell unregistered, one new cell.
    second = _result(
        2, 2.0, [3, -1, 1, 0, 9], np.vstack([maps[3], maps[2], maps[1], maps[0], rng.random(10)])
    )
    third = _result(3, 5.0, [0, 1, 2, 3], maps[:, ::-1], place=[True, True, False, False])
    drift = rate_map_drift([first, second, third], smooth_bins=0)
    one_two = drift[(drift.session_a == 1) & (drift.session_b == 2)].iloc[0]
    assert one_two.n_cells == 3 and one_two.mean_correlation == pytest.approx(1.0)
    assert one_two.elapsed_days == 1.0
    one_three = drift[(drift.session_a == 1) & (drift.session_b == 3)].iloc[0]
    expected = np.mean([np.corrcoef(maps[c], maps[c, ::-1])[0, 1] for c in range(4)])
    assert one_three.n_cells == 4 and one_three.mean_correlation == pytest.approx(expected)
    two_three = drift[(drift.session_a == 2) & (drift.session_b == 3)].iloc[0]
    assert two_three.n_cells == 3  # cell 2 is unregistered in session 2
    active_only = rate_map_drift([first, third], cells="active", smooth_bins=0)
    assert active_only.n_cells.tolist() == [4]


def test_session_table_and_figure():
    results = [
        _result(k + 1, 3.0 + k, [0, 1], np.ones((2, 4)) * (k + 1) + np.arange(4)) for k in range(3)
    ]
    table = session_table(results)
    assert table.elapsed_days.tolist() == [0.0, 1.0, 2.0]
    assert table.mean_si_ssr_norm.tolist() == [1.0, 1.0, 1.0]
    assert "fraction_place_norm" in table and table.fraction_place.tolist() == [1.0] * 3
    trends = trend_regressions(table)
    fig = plot_fig3(table, trends, rate_map_drift(results))
    assert len(fig.axes) == 5  # four metrics and the drift panel
    mean, sem = mean_sem(np.array([[1.0, 3.0, np.nan], [2.0, np.nan, np.nan]]))
    np.testing.assert_allclose(mean, [2.0, 2.0])
    assert sem[0] == pytest.approx(1.0) and np.isnan(sem[1])
