"""Metrics: plain functions on arrays (NumPy in, NumPy or xarray out).

* :mod:`~repdrift.metrics.sparsity` — active fraction, fraction of active units,
  Treves–Rolls sparseness;
* :mod:`~repdrift.metrics.tuning` — rate maps, Skaggs spatial information, shuffles,
  place units;
* :mod:`~repdrift.metrics.drift` — rate-map and population-vector correlations between
  snapshots, correlation against lag;
* :mod:`~repdrift.metrics.hessian` — exact Hessian spectrum of the loss and summaries;
* :mod:`~repdrift.metrics.timescale` — sparsification timescale (the paper's procedure or
  an exponential fit) and the phases of a run;
* :mod:`~repdrift.metrics.information` — bias-corrected information of recorded cells.
"""

from .drift import (
    active_in_map,
    correlation_vs_lag,
    map_correlation,
    population_vector_correlation,
    population_vector_correlation_matrix,
    rate_map_correlation_matrix,
)
from .hessian import (
    DEFAULT_RTOL,
    HessianSummary,
    gauss_newton_eigenvalues,
    hessian_eigenvalues,
    hessian_matrix,
    hessian_summary,
    hessian_trace,
    reduced_hessian,
)
from .information import unbiased_information
from .sparsity import (
    active_fraction,
    active_units,
    fraction_active_units,
    lifetime_sparseness,
    population_sparseness,
    treves_rolls,
)
from .timescale import (
    ExponentialFit,
    Phases,
    Timescale,
    fit_exponential,
    loss_plateau_step,
    phases,
    sparsification_timescale,
)
from .tuning import (
    ORIGINAL_SI_THRESHOLD,
    bin_index,
    binned_rates,
    place_units,
    rate_maps,
    shuffle_test,
    shuffle_threshold,
    shuffled_information,
    spatial_information,
    spatial_information_rate,
)

__all__ = [
    "DEFAULT_RTOL",
    "ORIGINAL_SI_THRESHOLD",
    "ExponentialFit",
    "HessianSummary",
    "Phases",
    "Timescale",
    "active_fraction",
    "active_in_map",
    "active_units",
    "bin_index",
    "binned_rates",
    "correlation_vs_lag",
    "fit_exponential",
    "fraction_active_units",
    "gauss_newton_eigenvalues",
    "hessian_eigenvalues",
    "hessian_matrix",
    "hessian_summary",
    "hessian_trace",
    "lifetime_sparseness",
    "loss_plateau_step",
    "map_correlation",
    "phases",
    "place_units",
    "population_sparseness",
    "population_vector_correlation",
    "population_vector_correlation_matrix",
    "rate_map_correlation_matrix",
    "rate_maps",
    "reduced_hessian",
    "shuffle_test",
    "shuffle_threshold",
    "shuffled_information",
    "sparsification_timescale",
    "spatial_information",
    "spatial_information_rate",
    "treves_rolls",
    "unbiased_information",
]
