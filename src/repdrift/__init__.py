"""repdrift — representational drift as a result of implicit regularization.

Simulations, metrics and recorded-data analysis after Ratzon, Derdikman & Barak (eLife
2024). The Python API mirrors the ``repdrift`` command::

    import repdrift
    cfg = repdrift.load_config(preset="fig2-quick")
    run = repdrift.simulate(cfg, out="runs/quick")
    run = repdrift.open_run("runs/quick")
"""

from repdrift.config import Config, ConfigError, load_config
from repdrift.simulation import Run, open_run, resume, simulate
from repdrift.store import StoreError

__version__ = "0.1.0"

__all__ = [
    "Config",
    "ConfigError",
    "Run",
    "StoreError",
    "load_config",
    "open_run",
    "resume",
    "simulate",
]
