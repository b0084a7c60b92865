"""Plain-format recorded sessions for the tests of the data loaders and the command."""

from __future__ import annotations

import numpy as np


def plain_fields(frames: int = 400, cells: int = 5) -> dict:
    """The fields of a valid plain-format session, as ``np.savez`` takes them."""
    rng = np.random.default_rng(0)
    return {
        "activity": rng.poisson(0.3, (frames, cells)).astype(float),
        "position": np.tile(np.linspace(0, 1, frames // 4), 4),
        "velocity_cm_s": np.full(frames, 10.0),
    }


def write_plain(path, changes: dict | None = None, metadata: str | None = None) -> None:
    """A plain-format session of 400 frames × 5 cells in ``path`` (``.npz`` or
    ``.parquet``): ``changes`` replace its fields (``.npz``) or are added as columns
    (``.parquet``); ``metadata`` is the Parquet file's ``repdrift`` metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    fields, changes = plain_fields(), dict(changes or {})
    if path.suffix == ".npz":
        np.savez(path, **{**fields, **changes})
        return
    columns = {"position": fields["position"], "velocity_cm_s": fields["velocity_cm_s"]}
    columns.update({f"cell_{k}": fields["activity"][:, k] for k in range(5)})
    table = pa.table({**columns, **changes})
    if metadata is not None:
        table = table.replace_schema_metadata({"repdrift": metadata})
    with open(path, "wb") as fh:  # pyarrow cannot open a name that is not UTF-8
        pq.write_table(table, fh)
