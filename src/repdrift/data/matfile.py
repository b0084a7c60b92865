"""Read MATLAB ``.mat`` files, version 5 (``scipy.io``) and 7.3 (HDF5, ``h5py``), alike.

Both versions come back as the same plain Python values, so a loader never needs to know
which one it read:

* numeric arrays: ``np.ndarray`` in MATLAB's shape (rows × columns, no squeezing; v7.3
  arrays are transposed back from HDF5's order); logical arrays as ``uint8`` (which is
  how ``scipy.io`` reads them); sparse matrices dense;
* char arrays: ``str`` (a char matrix: a list of its rows);
* cell arrays: ``np.ndarray`` of ``dtype=object`` in MATLAB's shape;
* structs: a ``dict`` of fields (a struct array: an object array of dicts).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .errors import DataError

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def mat_version(path: str | Path) -> str:
    """``"7.3"`` for an HDF5-based MAT-file, ``"5"`` for a level-5 one.

    Raises:
        DataError: the file is missing or is not a MAT-file.
    """
    path = Path(path)
    try:
        with path.open("rb") as f:
            head = f.read(1024)
    except OSError as err:
        raise DataError(path, f"cannot read the file ({err.strerror or err})") from None
    if _HDF5_SIGNATURE in (head[:8], head[512:520]):
        return "7.3"
    if head[:6] == b"MATLAB" and len(head) >= 128:
        return "5"
    if len(head) == 0:
        raise DataError(path, "the file is empty")
    raise DataError(path, "not a MATLAB MAT-file (no MAT-file header)")


def load_mat(path: str | Path, variables: list[str] | None = None) -> dict[str, Any]:
    """Load the variables of a MAT-file (v5 or v7.3) as plain Python values.

    Args:
        path: the ``.mat`` file.
        variables: names to load (all when ``None``); a missing name is an error.

    Raises:
        DataError: missing, unreadable or corrupt file, or a requested variable absent.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "file not found")
    version = mat_version(path)
    try:
        out = _load_v73(path, variables) if version == "7.3" else _load_v5(path, variables)
    except DataError:
        raise
    except Exception as err:  # scipy/h5py raise many types for damaged files
        raise DataError(
            path, f"corrupt or unreadable MAT-file ({type(err).__name__}: {err})"
        ) from None
    if variables is not None:
        missing = [v for v in variables if v not in out]
        if missing:
            found = ", ".join(sorted(_variable_names(path, version))) or "none"
            raise DataError(path, f"variable {missing[0]!r} not found (variables: {found})")
    return out


def _variable_names(path: Path, version: str) -> list[str]:
    try:
        if version == "7.3":
            import h5py

            with h5py.File(path, "r") as f:
                return [k for k in f if not k.startswith("#")]
        import scipy.io

        return [name for name, _, _ in scipy.io.whosmat(path)]
    except Exception:  # only used to word an error message
        return []


# --------------------------------------------------------------------------- v5


def _load_v5(path: Path, variables: list[str] | None) -> dict[str, Any]:
    import inspect

    import scipy.io

    # A sparse matrix comes back as a sparse array (made dense below either way): SciPy
    # 1.18 deprecates leaving ``spmatrix`` to its default, which 1.20 changes.
    sparse = (
        {"spmatrix": False} if "spmatrix" in inspect.signature(scipy.io.loadmat).parameters else {}
    )
    raw = scipy.io.loadmat(
        path,
        variable_names=variables,
        squeeze_me=False,
        struct_as_record=True,
        chars_as_strings=True,
        **sparse,
    )
    return {k: _from_v5(v) for k, v in raw.items() if not k.startswith("__")}


def _from_v5(value: Any) -> Any:
    import scipy.sparse

    if scipy.sparse.issparse(value):
        return np.asarray(value.todense())
    if not isinstance(value, np.ndarray):
        return value
    if value.dtype.names is not None:  # struct or struct array
        structs = np.empty(value.shape, dtype=object)
        for index in np.ndindex(value.shape):
            structs[index] = {name: _from_v5(value[index][name]) for name in value.dtype.names}
        return structs[(0,) * value.ndim] if value.size == 1 else structs
    if value.dtype.kind == "U":  # char array, one string per row
        rows = [str(s) for s in value.ravel()]
        if len(rows) == 1:
            return rows[0]
        return rows or ""
    if value.dtype == object:  # cell array
        cells = np.empty(value.shape, dtype=object)
        for index in np.ndindex(value.shape):
            cells[index] = _from_v5(value[index])
        return cells
    return value


# --------------------------------------------------------------------------- v7.3


def _load_v73(path: Path, variables: list[str] | None) -> dict[str, Any]:
    import h5py

    with h5py.File(path, "r") as f:
        names = [k for k in f if not k.startswith("#")]
        if variables is not None:
            names = [k for k in names if k in variables]
        return {k: _from_h5(f, f[k]) for k in names}


def _attr_str(obj: Any, name: str) -> str | None:
    value = obj.attrs.get(name)
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


def _from_h5(f: Any, obj: Any) -> Any:
    import h5py

    cls = _attr_str(obj, "MATLAB_class")
    if isinstance(obj, h5py.Group):
        if obj.attrs.get("MATLAB_sparse") is not None:
            return _sparse_from_h5(obj)
        keys = [k for k in obj if not k.startswith("#")]
        fields = {k: obj[k] for k in keys}
        array_fields = [
            v
            for v in fields.values()
            if isinstance(v, h5py.Dataset)
            and v.dtype == h5py.ref_dtype
            and _attr_str(v, "MATLAB_class") is None
        ]
        if fields and len(array_fields) == len(fields):  # struct array: fields hold refs
            shape = array_fields[0].shape[::-1]
            structs = np.empty(shape, dtype=object)
            refs = {k: v[()].T for k, v in fields.items()}
            for index in np.ndindex(shape):
                structs[index] = {k: _from_h5(f, f[refs[k][index]]) for k in keys}
            return structs[(0,) * len(shape)] if structs.size == 1 else structs
        return {k: _from_h5(f, v) for k, v in fields.items()}
    # a dataset
    if obj.attrs.get("MATLAB_empty", 0):
        if cls == "char":
            return ""
        if cls == "cell":
            return np.empty((0, 0), dtype=object)
        if cls == "struct":
            return {}
        return np.empty(tuple(int(d) for d in np.ravel(obj[()]))[::-1] or (0, 0))
    data = obj[()]
    if cls == "cell" or obj.dtype == h5py.ref_dtype:
        refs = np.asarray(data).T
        cells = np.empty(refs.shape, dtype=object)
        for index in np.ndindex(refs.shape):
            cells[index] = _from_h5(f, f[refs[index]])
        return cells
    array = np.asarray(data).T
    if cls == "char":
        rows = ["".join(chr(c) for c in row) for row in np.atleast_2d(array)]
        return rows[0] if len(rows) == 1 else rows
    if cls == "logical":  # uint8, as scipy reads a v5 logical
        return array.astype(np.uint8)
    if array.dtype.names is not None and {"real", "imag"} <= set(array.dtype.names):
        return array["real"] + 1j * array["imag"]
    return array


def _sparse_from_h5(group: Any) -> np.ndarray:
    import scipy.sparse

    rows = int(group.attrs["MATLAB_sparse"])
    jc = np.asarray(group["jc"][()], dtype=np.int64).ravel()
    ir = np.asarray(group["ir"][()], dtype=np.int64).ravel() if "ir" in group else np.array([])
    data = np.asarray(group["data"][()]).ravel() if "data" in group else np.array([])
    matrix = scipy.sparse.csc_matrix((data, ir, jc), shape=(rows, jc.size - 1))
    return np.asarray(matrix.todense())
