"""repdrift — representational drift as a result of implicit regularization.

Simulations, metrics and recorded-data analysis after Ratzon, Derdikman & Barak (eLife
2024). The Python API mirrors the ``repdrift`` command::

    import repdrift
    cfg = repdrift.load_config(preset="fig2-quick")
    run = repdrift.simulate(cfg, out="runs/quick")
    run = repdrift.open_run("runs/quick")
"""

import lazy_loader as _lazy

__version__ = "0.1.0"

# Everything loads when first used: the simulation and the store (and JAX, xarray and Zarr
# with them), so that the command's ``--help`` stays quick; the configuration (pydantic),
# so that the command's entry point (``repdrift.__main__``) is running before it loads.
__getattr__, _lazy_dir, _ = _lazy.attach(
    __name__,
    # ``repdrift.cores.use_cores(1)``, ``repdrift.metrics.…`` after a plain ``import repdrift``
    submodules=[
        "config",
        "cores",
        "data",
        "engine",
        "experiments",
        "inference",
        "learners",
        "metrics",
        "models",
        "network",
        "noise",
        "plotting",
        "precision",
        "runs",
        "simulation",
        "store",
        "sweep",
        "tasks",
    ],
    submod_attrs={
        "config": ["Config", "ConfigError", "load_config"],
        "runs": ["Run", "open_run"],
        "simulation": ["ComputedElsewhereWarning", "resume", "simulate"],
        "store": ["StoreError"],
    },
)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_lazy_dir()))


__all__ = [
    "ComputedElsewhereWarning",
    "Config",
    "ConfigError",
    "Run",
    "StoreError",
    "load_config",
    "open_run",
    "resume",
    "simulate",
]
