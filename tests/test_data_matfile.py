"""MATLAB v5 and v7.3 files read to the same values (repdrift.data.matfile)."""

from __future__ import annotations

import numpy as np
import pytest

from repdrift.data import DataError, load_mat
from repdrift.data.matfile import mat_version
from test_data_fixtures import save_mat


def _variables() -> dict:
    cells = np.empty((1, 3), dtype=object)
    cells[0, 0] = np.zeros((1, 0))
    cells[0, 1] = {"filename": "C6M4_Day3_A_am", "velocity": np.arange(4.0)[:, None]}
    cells[0, 2] = {"filename": "C6M4_Day3_A_pm", "velocity": -np.arange(3.0)[:, None]}
    grid = np.empty((2, 1, 2), dtype=object)
    for index in np.ndindex(grid.shape):
        grid[index] = np.full((3, 2), float(sum(index)))
    return {
        "matrix": np.arange(12.0).reshape(3, 4),
        "counts": np.array([[1, 2, 3]], dtype=np.uint8),
        "flag": np.array([[True, False]]),
        "name": "hello",
        "my_mvmt": cells,
        "grid": grid,
        "info": {"SI_bit_spike": np.array([[0.5, 1.5]]), "label": "x"},
    }


@pytest.mark.parametrize("version", ["5", "7.3"])
def test_both_versions_read_to_matlab_shapes_and_plain_values(tmp_path, version):
    path = save_mat(tmp_path / "v.mat", _variables(), version)
    assert mat_version(path) == version
    data = load_mat(path)
    np.testing.assert_array_equal(data["matrix"], np.arange(12.0).reshape(3, 4))
    assert data["counts"].shape == (1, 3) and data["counts"].dtype == np.uint8
    assert data["flag"].dtype == np.uint8 and data["flag"].tolist() == [[1, 0]]
    assert data["name"] == "hello"
    movement = data["my_mvmt"]
    assert movement.shape == (1, 3) and movement[0, 0].size == 0
    assert movement[0, 1]["filename"] == "C6M4_Day3_A_am"
    np.testing.assert_array_equal(movement[0, 2]["velocity"], -np.arange(3.0)[:, None])
    assert data["grid"].shape == (2, 1, 2)
    np.testing.assert_array_equal(data["grid"][1, 0, 1], np.full((3, 2), 2.0))
    np.testing.assert_array_equal(data["info"]["SI_bit_spike"], [[0.5, 1.5]])
    assert data["info"]["label"] == "x"


def test_v73_struct_arrays_and_empty_values(tmp_path):
    structs = np.empty((1, 2), dtype=object)
    structs[0, 0] = {"a": np.ones((2, 1)), "b": "p"}
    structs[0, 1] = {"a": np.zeros((3, 1)), "b": "q"}
    path = save_mat(
        tmp_path / "s.mat", {"s": ("struct_array", structs), "e": np.zeros((0, 3))}, "7.3"
    )
    data = load_mat(path)
    assert data["s"].shape == (1, 2)
    assert data["s"][0, 1]["b"] == "q" and data["s"][0, 1]["a"].shape == (3, 1)
    assert data["e"].shape == (0, 3)


def test_sparse_v5_matrix_becomes_dense(tmp_path):
    import scipy.sparse

    dense = np.zeros((4, 3))
    dense[1, 2] = 5.0
    path = tmp_path / "sp.mat"
    import scipy.io

    scipy.io.savemat(path, {"m": scipy.sparse.csc_matrix(dense)})
    np.testing.assert_array_equal(load_mat(path)["m"], dense)


def test_requested_variables_and_errors_name_the_file(tmp_path):
    path = save_mat(tmp_path / "v.mat", {"x": np.ones((2, 2))})
    assert list(load_mat(path, ["x"])) == ["x"]
    with pytest.raises(DataError, match=r"v\.mat: variable 'y' not found \(variables: x\)"):
        load_mat(path, ["y"])
    with pytest.raises(DataError, match=r"missing\.mat: file not found"):
        load_mat(tmp_path / "missing.mat")
    garbage = tmp_path / "garbage.mat"
    garbage.write_bytes(b"this is not a mat file at all" * 10)
    with pytest.raises(DataError, match=r"garbage\.mat: not a MATLAB MAT-file"):
        load_mat(garbage)
    truncated = tmp_path / "truncated.mat"
    big = save_mat(tmp_path / "big.mat", {"x": np.random.default_rng(0).random((50, 40))})
    truncated.write_bytes(big.read_bytes()[: big.stat().st_size // 2])
    with pytest.raises(DataError, match=r"truncated\.mat: corrupt or unreadable"):
        load_mat(truncated)
    empty = tmp_path / "empty.mat"
    empty.write_bytes(b"")
    with pytest.raises(DataError, match=r"empty\.mat: the file is empty"):
        load_mat(empty)
