"""Inferring the learning rule and the noise from the statistics of drift.

Ratzon, Derdikman & Barak (2024) end on "an exciting opportunity — inferring the learning
rule of a network from the statistics of representational drift". This package does it on
a library of simulations: for every run of a sweep it computes features of the drift time
courses that do not depend on the unit of time (:mod:`.features`, read from runs and
recordings by :mod:`.observe`), trains a calibrated classifier of the rule and regressors
of the noise magnitude with intervals on them (:mod:`.model`), evaluates both on held-out
tasks and problem sizes (:mod:`.evaluate`, :mod:`.figures`), and predicts the rule of a
run, a sweep or a recorded series (:mod:`.predict`). ``docs/inference.md`` has the
measured results.

Python API (mirrors ``repdrift infer``)::

    from repdrift.inference.train import train
    from repdrift.inference.model import load
    from repdrift.inference.predict import predict, resolve

    result = train(["libs/quick"], "models/quick")        # a sweep of infer-library-quick
    model, manifest = load("models/quick")
    for item in resolve("results/mm/sessions.parquet").items:
        p = predict(model, item)                             # p.rule, p.probabilities, p.noise
"""

from repdrift.inference.errors import InferenceError

__all__ = ["InferenceError"]
