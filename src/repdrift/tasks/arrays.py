"""A dataset given as arrays: train the network on any recorded or published dataset.

``[task] kind = "arrays"``, ``path = "data.npz"``: an ``.npz`` file with

==============  =====================  ==============================================
array           shape                  meaning
==============  =====================  ==============================================
``inputs``      ``(samples, d_in)``    required, finite
``targets``     ``(samples, d_out)``   required, finite
``position``    ``(samples,)``         optional: position along a track (rate maps, SI)
``direction``   ``(samples,)``         optional: running direction, ``+1`` / ``-1``
==============  =====================  ==============================================

The arrays are used as they are (no rescaling). A run stores the dataset it trained on
(``repdrift.open_run(DIR).dataset``), so it can be resumed and analysed without the file.

``path = "published:fig2"`` names the dataset of the published Fig. 2 run (the original
repository's ``outputs/predictive_track_up/data.pkl``, Apache-2.0, converted to NumPy and
shipped with repdrift): 150 samples, 17 view values and the heading change in [0, 1],
positions −5.6 … 5.6 along the track.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from repdrift.tasks.dataset import Dataset
from repdrift.tasks.params import ArraysParams
from repdrift.terminal import first_line

#: Datasets shipped with repdrift, by the name ``path = "published:NAME"`` gives.
PUBLISHED = {"fig2": "fig2_published_dataset.npz"}


def resolve(path: str):
    """The file a ``path`` names (a shipped dataset for ``published:NAME``)."""
    if path.startswith("published:"):
        name = path.removeprefix("published:")
        if name not in PUBLISHED:
            raise ValueError(
                f"arrays: unknown published dataset {name!r}; choose one of "
                + ", ".join(f"published:{n}" for n in PUBLISHED)
            )
        return resources.files("repdrift") / "reference" / PUBLISHED[name]
    try:
        return Path(path).expanduser()
    except RuntimeError:  # "~someone" for a user this machine does not know
        raise ValueError(f"arrays: {path}: no home directory for {path.split('/')[0]}") from None


def load(path: str) -> dict[str, np.ndarray]:
    """Read and check the arrays of ``path`` (raises ``ValueError`` naming the problem)."""
    file = resolve(path)
    if not file.is_file():
        raise ValueError(f"arrays: {path} does not exist or is not a file")
    try:
        with file.open("rb") as fh, np.load(fh, allow_pickle=False) as npz:
            arrays = {k: np.asarray(npz[k]) for k in npz.files}
    except Exception as err:
        reason = first_line(err)
        raise ValueError(f"arrays: {path} is not a readable .npz file ({reason})") from None
    for name in ("inputs", "targets"):
        if name not in arrays:
            raise ValueError(f"arrays: {path} has no {name!r} array (it has {sorted(arrays)})")
        if arrays[name].ndim != 2 or arrays[name].shape[0] < 1 or arrays[name].shape[1] < 1:
            raise ValueError(
                f"arrays: {name} must be a non-empty 2-D (samples, dims) array, got shape "
                f"{arrays[name].shape}"
            )
    samples = arrays["inputs"].shape[0]
    if arrays["targets"].shape[0] != samples:
        raise ValueError(
            f"arrays: inputs have {samples} samples but targets {arrays['targets'].shape[0]}"
        )
    for name in ("position", "direction"):
        if name in arrays and arrays[name].shape != (samples,):
            raise ValueError(
                f"arrays: {name} must have shape ({samples},), got {arrays[name].shape}"
            )
    if "direction" in arrays and not np.all(np.isin(arrays["direction"], (-1, 1))):
        raise ValueError("arrays: direction must hold only +1 and -1")
    if "direction" in arrays and "position" not in arrays:
        raise ValueError("arrays: direction without position")
    for name in ("inputs", "targets", "position", "direction"):
        value = arrays.get(name)
        if value is None:
            continue
        real = np.issubdtype(value.dtype, np.number) and not np.iscomplexobj(value)
        if not real or not np.all(np.isfinite(value)):
            raise ValueError(f"arrays: {name} must be finite real numbers")
        # a run trains in float32 (or float64): a value beyond float32 would be infinite
        if np.abs(value).max(initial=0) > np.finfo(np.float32).max:
            raise ValueError(
                f"arrays: {name} holds values beyond float32's range "
                f"(|x| up to {np.abs(value).max():.3g}); rescale them"
            )
    return arrays


def make(key: jax.Array, params: ArraysParams, *, dtype=jnp.float32) -> Dataset:
    """The dataset of the file (``key`` is unused: the data are given)."""
    del key
    arrays = load(params.path)

    def get(name):
        return jnp.asarray(arrays[name], dtype) if name in arrays else None

    return Dataset(
        inputs=get("inputs"),
        targets=get("targets"),
        position=get("position"),
        direction=get("direction"),
    )
