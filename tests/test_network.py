"""The network's initial weights, against the scales of the paper's published code.

DESIGN.md ("The model"): W1 and b1 ~ N(0, 2/d_in) (He); the readout W2 ~ N(0, sd²) with
sd = sqrt(2/N) (repdrift's "lazy", the original's "rich") or sd = 2/N (repdrift's "rich",
the original's "lazy"), N the number of hidden units. The published Fig. 2 run used
sd = 2/N.
"""

import math

import jax
import numpy as np
import pytest
from scipy import stats

from repdrift import config, network, simulation


def _assert_normal_with_variance(draws, variance, name):
    """Mean 0 and variance ``variance`` within 5 standard errors; normal shape (KS)."""
    z = np.asarray(draws, np.float64).ravel()
    n = z.size
    assert abs(z.mean()) < 5 * math.sqrt(variance / n), name
    # Standard error of the sample variance of a normal: σ² sqrt(2 / n).
    assert abs(z.var() / variance - 1.0) < 5 * math.sqrt(2.0 / n), name
    assert stats.kstest(z[:20_000] / math.sqrt(variance), "norm").pvalue > 0.01, name


@pytest.mark.parametrize(
    ("readout", "sd"),
    [("lazy", lambda n: math.sqrt(2.0 / n)), ("rich", lambda n: 2.0 / n), (0.05, lambda n: 0.05)],
    ids=["lazy", "rich", "explicit"],
)
def test_init_draws_he_first_layer_and_the_readout_scale(readout, sd):
    # 4,000 units and 50 inputs: 200,000 W1 entries (variance to ±1.6 %), 4,000 b1 entries
    # (±11 %) and 40,000 W2 entries (±3.5 %), 5 standard errors each — halving a variance,
    # e.g. He as 1/d_in or a readout of 1/sqrt(N), is far outside.
    d_in, hidden, d_out = 50, 4000, 10
    params = network.init(jax.random.key(0), d_in, hidden, d_out, readout=readout)
    assert {k: v.shape for k, v in params.items()} == {
        "W1": (hidden, d_in),
        "b1": (hidden,),
        "W2": (d_out, hidden),
    }
    he = 2.0 / d_in
    _assert_normal_with_variance(params["W1"], he, "W1")
    _assert_normal_with_variance(params["b1"], he, "b1")
    _assert_normal_with_variance(params["W2"], sd(hidden) ** 2, "W2")
    # The three tensors are drawn independently (their first 4,000 entries uncorrelated).
    a, b = np.asarray(params["W1"]).ravel()[:hidden], np.asarray(params["b1"])
    assert abs(np.corrcoef(a, b)[0, 1]) < 5 / math.sqrt(hidden)


def test_readout_presets_are_named_by_the_standard_meaning():
    # DESIGN.md: the large readout sqrt(2/N) is lazy (NTK-like), the small 2/N is rich.
    for n in (100, 500, 4000):
        assert network.readout_sd("lazy", n) == pytest.approx(math.sqrt(2.0 / n), rel=1e-12)
        assert network.readout_sd("rich", n) == pytest.approx(2.0 / n, rel=1e-12)
        assert network.readout_sd("rich", n) < network.readout_sd("lazy", n)
    assert network.readout_sd(0.3, 500) == 0.3
    for bad in ("ntk", 0.0, -1.0):
        with pytest.raises(ValueError, match="readout"):
            network.readout_sd(bad, 500)


def test_the_fig2_preset_starts_from_the_published_scales():
    # The published Fig. 2 run: 500 units, readout sd 2/N = 0.004 (DESIGN.md, "Facts of the
    # published runs"); the corridor has 17 view values as targets and d_in inputs, W1 and
    # b1 He-scaled, N(0, 2/d_in).
    cfg = config.load_config(preset="fig2")
    member = simulation.build(cfg)
    params = member.initial.params
    d_in = member.dataset.inputs.shape[1]
    assert params["W1"].shape == (500, d_in)
    assert params["W2"].shape == (17, 500)
    # 8,500 readout entries: the variance to ±7.7 % (5 standard errors); sqrt(2/N) would
    # be 250 times the variance.
    _assert_normal_with_variance(params["W2"], (2.0 / 500) ** 2, "W2")
    _assert_normal_with_variance(params["W1"], 2.0 / d_in, "W1")
    _assert_normal_with_variance(params["b1"], 2.0 / d_in, "b1")
