"""Loaders of every layout to one Session (repdrift.data)."""

from __future__ import annotations

from datetime import UTC

import numpy as np
import pandas as pd
import pytest

from plain_sessions import plain_fields, write_plain
from repdrift.data import (
    DataError,
    Session,
    describe,
    load_nwb,
    load_plain,
    load_recordings,
    load_track,
    load_true_information,
    save_session,
)
from test_data_fixtures import require_data, save_mat, write_track


@pytest.mark.parametrize(("version", "track"), [("5", "A"), ("7.3", "A"), ("5", "B")])
def test_multiple_maps_track_round_trip(tmp_path, version, track):
    folder = tmp_path / "C1_M1" / f"Environment {track}"
    truth = write_track(folder, version=version, track=track, first_day=3)
    sessions = load_track(folder)
    assert [s.session for s in sessions] == [1, 2]
    assert [s.day for s in sessions] == [3.0, 4.0] and all(s.day_known for s in sessions)
    for s, expected in zip(sessions, truth["sessions"], strict=True):
        assert (s.animal, s.track, s.frame_rate_hz) == ("C1_M1", track, 20.0)
        # Trials 2–6 only, first behaviour frame dropped: imaging and behaviour aligned.
        np.testing.assert_array_equal(s.activity, expected["activity"])
        np.testing.assert_allclose(s.position, expected["position"], atol=1e-12)
        np.testing.assert_allclose(s.velocity_cm_s, expected["velocity"], atol=1e-12)
        assert np.array_equal(np.unique(s.trial), [2, 3, 4, 5, 6])
        assert s.notes == ()
    # Registration: column k of session s is identity (k + s) % cells.
    np.testing.assert_array_equal(sessions[0].cell_ids, (np.arange(12) + 1) % 12)
    np.testing.assert_array_equal(sessions[1].cell_ids, (np.arange(12) + 2) % 12)


def _rewrite_log(folder, session, rows):
    lines = ["session,trial,begFrame,endFrame,Var5"]
    lines += [f"1,{t},{first},{last},x.tif" for t, first, last in rows]
    (folder / f"frameLog_{session}.csv").write_text("\n".join(lines) + "\n")


def test_split_imaging_and_shifted_trials_are_matched_by_frame_count(tmp_path):
    folder = tmp_path / "C1_M1" / "Environment A"
    truth = write_track(folder, n_sessions=1, frames_per_trial=900)
    # Imaging of trial 3 split in two files: frame-log trials 3 (400) + 4 (500); the later
    # trials shift by one. The events matrix is unchanged.
    rows = [
        (1, 1, 900),
        (2, 901, 1800),
        (3, 1801, 2200),
        (4, 2201, 2700),
        (5, 2701, 3600),
        (6, 3601, 4500),
        (7, 4501, 5400),
        (8, 5401, 6300),
    ]
    _rewrite_log(folder, 1, rows)
    (session,) = load_track(folder)
    np.testing.assert_array_equal(session.activity, truth["sessions"][0]["activity"])
    assert any("3 matched to frame-log trial(s) 3+4" in n for n in session.notes)
    assert any("6 matched to frame-log trial(s) 7" in n for n in session.notes)


def test_a_trial_that_matches_nothing_is_left_out_with_a_note(tmp_path):
    folder = tmp_path / "C1_M1" / "Environment A"
    truth = write_track(folder, n_sessions=1, frames_per_trial=900)
    rows = [
        (1, 1, 900),
        (2, 901, 1800),
        (3, 1801, 2500),
        (4, 2701, 3600),
        (5, 3601, 4500),
        (6, 4501, 5400),
        (7, 5401, 6300),
    ]  # trial 3: 700 imaging frames for 900
    _rewrite_log(folder, 1, rows)
    (session,) = load_track(folder)
    assert np.array_equal(np.unique(session.trial), [2, 4, 5, 6])
    assert session.n_frames == 4 * 900
    assert any(
        "trial 3 has 900 behaviour frames but frame-log trial 3 has 700" in n for n in session.notes
    )
    expected = truth["sessions"][0]["activity"]
    np.testing.assert_array_equal(session.activity[:900], expected[:900])
    np.testing.assert_array_equal(session.activity[900:], expected[1800:])


def test_small_frame_differences_are_cut_to_the_shorter(tmp_path):
    folder = tmp_path / "C1_M1" / "Environment A"
    write_track(folder, n_sessions=1, frames_per_trial=900)
    rows = [(k, (k - 1) * 900 + 1, k * 900 - (4 if k == 2 else 0)) for k in range(1, 8)]
    _rewrite_log(folder, 1, rows)
    (session,) = load_track(folder)
    assert session.n_frames == 5 * 900 - 4 and session.notes == ()


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda f: (f / "behavior_2.mat").unlink(), r"behavior_2\.mat: file not found"),
        (
            lambda f: (f / "finalEventsMat_2.mat").unlink(),
            r"finalEventsMat_2\.mat: file not found \(session 2 has behaviour but no events\)",
        ),
        (lambda f: (f / "frameLog_1.csv").unlink(), r"frameLog_1\.csv: file not found"),
        (
            lambda f: (f / "finalEventsMat_2.mat").write_bytes(b"MATLAB 5.0" + b"\0" * 200),
            r"finalEventsMat_2\.mat: corrupt or unreadable",
        ),
        (
            lambda f: _rewrite_log(
                f, 1, [(k, (k - 1) * 900 + 1, k * 900 + 50) for k in range(1, 8)]
            ),
            r"frameLog_1\.csv: frame log reaches frame 6350 but the events matrix has 6300",
        ),
        (
            lambda f: save_mat(
                f / "cell_registration.mat",
                {"cell_to_index_map": np.array([[40, 1], [1, 2], [2, 3]], dtype=np.uint16)},
            ),
            r"cell_registration\.mat: session 1 refers to cell 40 but finalEventsMat_1\.mat has 12",
        ),
        (  # two registered cells cannot both be cell 1 of session 1
            lambda f: save_mat(
                f / "cell_registration.mat",
                {"cell_to_index_map": np.array([[1, 1], [2, 2], [1, 3]], dtype=np.uint16)},
            ),
            r"cell_registration\.mat: cell_to_index_map gives cell 1 of session 1 to more than "
            r"one registered cell \(rows 1, 3\)",
        ),
        (
            lambda f: save_mat(
                f / "cell_registration.mat", {"cell_to_index_map": np.ones((3, 1), dtype=np.uint16)}
            ),
            r"cell_registration\.mat: cell_to_index_map has 1 sessions but the folder has 2",
        ),
        (
            lambda f: save_mat(f / "behavior_1.mat", {"something_else": np.ones(3)}),
            r"behavior_1\.mat: variable 'my_mvmt' not found",
        ),
    ],
)
def test_missing_corrupt_or_mismatched_files_name_the_file(tmp_path, damage, message):
    folder = tmp_path / "C1_M1" / "Environment A"
    write_track(folder, n_sessions=2, frames_per_trial=900)
    damage(folder)
    with pytest.raises(DataError, match=message):
        load_track(folder)


def test_layout_recognised_at_track_mouse_and_dataset_level(tmp_path):
    root = tmp_path / "multiple_maps"
    write_track(root / "C1_M1" / "Environment A", n_sessions=1, frames_per_trial=300)
    write_track(root / "C1_M1" / "Environment B", n_sessions=1, frames_per_trial=300, track="B")
    write_track(root / "C2_M1" / "Environment A", n_sessions=2, frames_per_trial=300)
    assert describe(root).series == ("C1_M1/A", "C1_M1/B", "C2_M1/A")
    assert describe(root).n_sessions == 4
    assert describe(root / "C1_M1").series == ("C1_M1/A", "C1_M1/B")
    layout = describe(root / "C2_M1" / "Environment A")
    assert (layout.name, layout.series, layout.n_sessions) == ("multiple_maps", ("C2_M1/A",), 2)
    assert [s.label() for s in layout.sessions()] == ["C2_M1 A session 1", "C2_M1 A session 2"]
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("hi")
    with pytest.raises(DataError, match="other: not a recognised layout"):
        describe(tmp_path / "other")
    with pytest.raises(DataError, match="nowhere: no such file or folder"):
        describe(tmp_path / "nowhere")


def _spike_train_folder(tmp_path, prefix="C9M9_"):
    rng = np.random.default_rng(1)
    spikes = np.empty((2, 2, 2), dtype=object)
    stimulus = np.empty((2, 2, 2), dtype=object)
    truth = np.empty((2, 2, 2), dtype=object)
    for e, s in np.ndindex(2, 2):
        cells = 5 + e + s
        for d in range(2):
            frames = 100 + 10 * d
            spikes[e, s, d] = rng.poisson(0.1, (frames, cells)).astype(np.uint8)
            stimulus[e, s, d] = rng.integers(3, 23, (frames, 1)).astype(np.uint8)
            truth[e, s, d] = rng.random((1, cells))
    save_mat(tmp_path / f"{prefix}simulated_spike_train.mat", {"spike_train": spikes})
    save_mat(tmp_path / f"{prefix}stimulus_trace.mat", {"stimulus_trace": stimulus})
    info = {"SI_bit_spike": truth, "SI_bit_sec": truth, "MI": truth}
    save_mat(tmp_path / f"{prefix}true_information.mat", {"true_information": info})
    return spikes, stimulus, truth


def test_spike_train_layout(tmp_path):
    spikes, stimulus, truth = _spike_train_folder(tmp_path)
    sessions = load_recordings(tmp_path)
    assert [(s.animal, s.track, s.session) for s in sessions] == [
        ("C9M9", "1", 1),
        ("C9M9", "1", 2),
        ("C9M9", "2", 1),
        ("C9M9", "2", 2),
    ]
    s = sessions[3]  # track 2, session 2: both directions, 7 cells
    assert s.n_cells == 7 and s.n_frames == 210 and not s.day_known
    np.testing.assert_array_equal(s.activity[:100], spikes[1, 1, 0])
    np.testing.assert_array_equal(s.direction, np.r_[np.ones(100), -np.ones(110)])
    bins = np.round(s.position * 24 + 0.5).astype(int)
    np.testing.assert_array_equal(bins[100:], stimulus[1, 1, 1].ravel())
    loaded = load_true_information(tmp_path / "C9M9_true_information.mat")
    np.testing.assert_array_equal(loaded[1, 0, 1], truth[1, 0, 1].ravel())
    layout = describe(tmp_path)
    assert layout.name == "spike_trains" and layout.series == ("C9M9/1", "C9M9/2")


def test_spike_train_layout_mismatch_is_an_error(tmp_path):
    _, stimulus, _ = _spike_train_folder(tmp_path)
    stimulus[0, 1, 1] = stimulus[0, 1, 1][:-3]
    save_mat(tmp_path / "C9M9_stimulus_trace.mat", {"stimulus_trace": stimulus})
    with pytest.raises(
        DataError,
        match=r"C9M9_stimulus_trace\.mat: recording 1/2/2 has 107 "
        "stimulus frames for 110 spike-train frames",
    ):
        load_recordings(tmp_path)


def _session(seed=0, frames=300, cells=4, **kw) -> Session:
    rng = np.random.default_rng(seed)
    return Session(
        activity=rng.poisson(0.2, (frames, cells)).astype(float),
        position=rng.random(frames),
        time_s=np.arange(frames) / 20.0,
        velocity_cm_s=rng.normal(0, 10, frames),
        trial=np.repeat([2, 3], frames // 2),
        animal="M1",
        track="A",
        session=3,
        day=12.5,
        cell_ids=np.array([5, -1, 7, 2][:cells]),
        **kw,
    )


@pytest.mark.parametrize("suffix", [".npz", ".parquet"])
def test_plain_format_round_trip(tmp_path, suffix):
    original = _session()
    loaded = load_plain(save_session(original, tmp_path / f"s{suffix}"))
    for name in ("activity", "position", "time_s", "velocity_cm_s", "trial", "cell_ids"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(original, name))
    assert (loaded.animal, loaded.track, loaded.session, loaded.day) == ("M1", "A", 3, 12.5)
    assert loaded.direction is None and loaded.frame_rate_hz == pytest.approx(20.0)


def test_plain_format_position_units_and_errors(tmp_path):
    rng = np.random.default_rng(0)
    activity = rng.poisson(0.2, (50, 2))
    np.savez(
        tmp_path / "cm.npz",
        activity=activity,
        position=np.linspace(10, 90, 50),
        position_range=np.array([10.0, 90.0]),
        direction=np.ones(50),
        animal="X",
    )
    session = load_plain(tmp_path / "cm.npz")
    np.testing.assert_allclose(session.position, np.linspace(0, 1, 50))
    assert session.velocity_cm_s is None and session.animal == "X" and not session.day_known
    np.savez(
        tmp_path / "bad.npz",
        activity=activity,
        position=np.linspace(10, 90, 50),
        direction=np.ones(50),
    )
    with pytest.raises(DataError, match=r"bad\.npz: 'position' must be a fraction"):
        load_plain(tmp_path / "bad.npz")
    np.savez(
        tmp_path / "short.npz",
        activity=activity,
        position=np.linspace(0, 1, 49),
        direction=np.ones(49),
    )
    with pytest.raises(DataError, match=r"short\.npz: position has 49 frames but the activity"):
        load_plain(tmp_path / "short.npz")
    np.savez(tmp_path / "novel.npz", activity=activity, position=np.linspace(0, 1, 50))
    with pytest.raises(DataError, match=r"novel\.npz: needs 'velocity_cm_s' or 'direction'"):
        load_plain(tmp_path / "novel.npz")
    np.savez(
        tmp_path / "rate.npz",
        activity=activity,
        position=np.linspace(0, 1, 50),
        direction=np.ones(50),
        frame_rate_hz=0.0,
    )
    with pytest.raises(DataError, match=r"rate\.npz: 'frame_rate_hz' must be a positive"):
        load_plain(tmp_path / "rate.npz")
    np.savez(
        tmp_path / "empty.npz",
        activity=np.zeros((0, 2)),
        position=np.zeros(0),
        direction=np.zeros(0),
    )
    with pytest.raises(DataError, match=r"empty\.npz: 'activity' needs at least 2 frames"):
        load_plain(tmp_path / "empty.npz")
    pd.DataFrame({"position": [0.1, 0.2], "direction": [1, 1]}).to_parquet(tmp_path / "p.parquet")
    with pytest.raises(DataError, match=r"p\.parquet: no cell_<k> columns"):
        load_plain(tmp_path / "p.parquet")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"position": np.full(400, "a")}, r"'position' must hold numbers, got text"),
        ({"time_s": np.full(400, "a")}, r"'time_s' must hold numbers, got text"),
        ({"velocity_cm_s": np.full(400, "a")}, r"'velocity_cm_s' must hold numbers"),
        ({"position": np.zeros(400, complex)}, r"'position' must hold numbers"),
        ({"position_range": np.array([10.0])}, r"'position_range' must be two numbers"),
        ({"position_range": np.array([np.nan, 1])}, r"'position_range' must be \(low, high\)"),
        ({"position": np.full(400, np.inf)}, r"'position' must be a fraction"),
        ({"session": 1e300}, r"'session' must be a whole number .*1e\+300"),
        ({"session": np.nan}, r"'session' must be one finite number"),
        ({"session": "three"}, r"'session' must be one finite number"),
        ({"day": np.inf}, r"'day' must be one finite number"),
        ({"day": np.arange(2.0)}, r"'day' must be one finite number .*2 values"),
        ({"direction": np.full(400, 5)}, r"'direction' must hold \+1, -1 or 0"),
        ({"direction": np.full(400, np.nan)}, r"'direction' must hold \+1, -1 or 0"),
        ({"animal": np.array(["M1", "M2"])}, r"'animal' must be one string, got 2 values"),
        ({"track": np.arange(3)}, r"'track' must be one string"),
        ({"trial": np.full(400, np.nan)}, r"'trial' must hold whole numbers"),
        ({"cell_ids": np.full(5, "x")}, r"'cell_ids' must hold numbers"),
        ({"frame_rate_hz": np.arange(3.0)}, r"'frame_rate_hz' must be a positive"),
    ],
)
def test_plain_npz_fields_of_the_wrong_type_or_range_name_the_file_and_field(
    tmp_path, changes, message
):
    np.savez(tmp_path / "s.npz", **{**plain_fields(), **changes})
    with pytest.raises(DataError, match=r"s\.npz: " + message):
        load_plain(tmp_path / "s.npz")


@pytest.mark.parametrize(
    ("columns", "metadata", "message"),
    [
        ({"cell_1": ["x"] * 400}, None, r"'cell_1' must hold numbers, got text"),
        ({"position": ["0.5"] * 400}, None, r"'position' must hold numbers, got text"),
        ({"day": ["x"] * 400}, None, r"'day' must be one finite number"),
        ({"animal": [[1]] * 400}, None, r"column 'animal' must hold one value"),
        (None, "[1, 2]", r"the 'repdrift' metadata must be a JSON object"),
        (None, '{"session": 1' + "0" * 400 + "}", r"'session' must be one finite number"),
        (None, '{"position_range": [[0], [1, 2]]}', r"'position_range' must hold numbers"),
        (None, '{"animal": ["M1", "M2"]}', r"'animal' must be one string"),
    ],
)
def test_plain_parquet_fields_of_the_wrong_type_name_the_file_and_field(
    tmp_path, columns, metadata, message
):
    write_plain(tmp_path / "s.parquet", columns, metadata)
    with pytest.raises(DataError, match=r"s\.parquet: " + message):
        load_plain(tmp_path / "s.parquet")


def test_plain_files_with_names_that_are_not_utf8(tmp_path):
    # Python keeps such a byte as a lone surrogate, which pyarrow cannot open or store
    name = b"s\xff".decode("utf-8", "surrogateescape")
    write_plain(tmp_path / f"{name}.parquet", metadata='{"session": null, "day": 2}')
    session = load_plain(tmp_path / f"{name}.parquet")
    assert session.animal == "s\ufffd" and session.session == 0 and session.day == 2.0
    session.source.encode("utf-8")  # the tables of the analysis hold it


def test_data_error_survives_pickling():
    # a worker process's error reaches the parent pickled (repdrift reproduce fig3)
    import pickle

    for error in (DataError("./data/s.mat", "not a MATLAB MAT-file"), DataError(None, "none")):
        again = pickle.loads(pickle.dumps(error))
        assert type(again) is DataError
        assert str(again) == str(error) and again.args == error.args
        assert (again.path, again.problem) == (error.path, error.problem)


def test_plain_folder_orders_sessions_by_day(tmp_path):
    for day in (5.0, 2.0, 9.0):
        s = _session(seed=int(day))
        s = Session(**{**s.__dict__, "session": 0, "day": day})
        save_session(s, tmp_path / f"day{int(day)}.npz")
    layout = describe(tmp_path)
    assert layout.name == "plain" and layout.series == ("M1/A",)
    assert [(s.session, s.day) for s in layout.sessions()] == [(1, 2.0), (2, 5.0), (3, 9.0)]


def test_two_files_of_one_session_number_are_refused(tmp_path):
    # A copied file (or two numbered alike) would count one session twice, and compare
    # it with itself as if days apart.
    for name, seed in (("a.npz", 1), ("b.npz", 2)):
        s = _session(seed=seed)
        save_session(Session(**{**s.__dict__, "session": 3, "day": 3.0}), tmp_path / name)
    with pytest.raises(DataError, match=r"b\.npz: is M1 A session 3, as .*a\.npz is"):
        describe(tmp_path)
    # Sessions without numbers on one day are numbered, not refused.
    for name in ("a.npz", "b.npz"):
        s = load_plain(tmp_path / name)
        save_session(Session(**{**s.__dict__, "session": 0}), tmp_path / name)
    assert [s.session for s in describe(tmp_path).sessions()] == [1, 2]


def _write_nwb(path, *, with_velocity=False, position=None):
    from datetime import datetime

    from pynwb import NWBHDF5IO, NWBFile
    from pynwb.base import TimeSeries
    from pynwb.behavior import Position, SpatialSeries
    from pynwb.file import Subject
    from pynwb.ophys import Fluorescence, ImageSegmentation, OpticalChannel

    nwbfile = NWBFile(
        session_description="linear track",
        identifier="id-1",
        session_start_time=datetime(2024, 1, 3, tzinfo=UTC),
        session_id="mouseX_day4_env_B",
        subject=Subject(subject_id="mouseX"),
    )
    device = nwbfile.create_device(name="scope")
    channel = OpticalChannel(name="green", description="gcamp", emission_lambda=510.0)
    plane = nwbfile.create_imaging_plane(
        name="plane",
        optical_channel=channel,
        device=device,
        description="CA1",
        excitation_lambda=470.0,
        indicator="GCaMP6f",
        location="CA1",
        imaging_rate=20.0,
    )
    ophys = nwbfile.create_processing_module("ophys", "optical physiology")
    segmentation = ImageSegmentation()
    ophys.add(segmentation)
    rois = segmentation.create_plane_segmentation(
        name="cells", description="ROIs", imaging_plane=plane
    )
    rois.add_column("cell_id", "registered identity")
    for k in range(3):
        mask = np.zeros((4, 4))
        mask[k, k] = 1
        rois.add_roi(image_mask=mask, cell_id=[10, 11, 12][k])
    rng = np.random.default_rng(0)
    frames = 200
    events = rng.poisson(0.1, (frames, 3)).astype(float)
    for container, series, data in (
        ("Fluorescence", "dff", events - 0.5),
        ("Deconvolved", "events", events),
    ):
        fluorescence = Fluorescence(name=container)
        ophys.add(fluorescence)
        fluorescence.create_roi_response_series(
            name=series,
            data=data,
            unit="a.u.",
            rate=20.0,
            rois=rois.create_roi_table_region(region=[0, 1, 2], description="all"),
        )
    behaviour = nwbfile.create_processing_module("behavior", "behaviour")
    times = np.arange(frames) / 20.0
    x_m = 0.96 * (0.5 - 0.5 * np.cos(2 * np.pi * times / 5.0))  # 0..0.96 m, 5 s laps
    if position is not None:
        x_m = position(x_m)
    behaviour.add(
        Position(
            spatial_series=SpatialSeries(
                name="linear_position",
                data=x_m,
                timestamps=times,
                unit="meters",
                reference_frame="track start",
            )
        )
    )
    if with_velocity:
        behaviour.add(
            TimeSeries(name="velocity", data=np.full(frames, 7.0), unit="cm/s", timestamps=times)
        )
    nwbfile.add_trial(start_time=0.0, stop_time=5.0)
    nwbfile.add_trial(start_time=5.0, stop_time=10.0)
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwbfile)
    return events, x_m, times


def test_nwb_session(tmp_path):
    pytest.importorskip("pynwb")
    events, x_m, times = _write_nwb(tmp_path / "s.nwb")
    s = load_nwb(tmp_path / "s.nwb")
    np.testing.assert_array_equal(s.activity, events)  # the deconvolved series, not ΔF/F
    np.testing.assert_allclose(s.position, x_m / x_m.max(), atol=1e-12)
    expected_velocity = np.gradient(x_m * 100, times)
    np.testing.assert_allclose(s.velocity_cm_s, expected_velocity, rtol=1e-9, atol=1e-9)
    assert (s.animal, s.track, s.day) == ("mouseX", "B", 4.0)
    np.testing.assert_array_equal(s.cell_ids, [10, 11, 12])
    np.testing.assert_array_equal(np.unique(s.trial), [1, 2])
    assert s.frame_rate_hz == pytest.approx(20.0)
    _write_nwb(tmp_path / "v.nwb", with_velocity=True)
    np.testing.assert_allclose(load_nwb(tmp_path / "v.nwb").velocity_cm_s, 7.0)
    layout = describe(tmp_path / "s.nwb")
    assert layout.name == "nwb" and [x.session for x in layout.sessions()] == [1]


def test_nwb_errors(tmp_path):
    pytest.importorskip("pynwb")
    (tmp_path / "bad.nwb").write_bytes(b"not hdf5")
    with pytest.raises(DataError, match=r"bad\.nwb: unreadable NWB file"):
        load_nwb(tmp_path / "bad.nwb")
    for name, position, message in (
        ("lost.nwb", lambda x: np.full_like(x, np.nan), "fewer than two positions are finite"),
        ("one.nwb", lambda x: np.where(np.arange(x.size) == 3, 0.5, np.nan), "fewer than two"),
        ("still.nwb", lambda x: np.full_like(x, 0.3), "the position never changes"),
    ):
        _write_nwb(tmp_path / name, position=position)
        with pytest.raises(DataError, match=rf"{name}: linear_position: {message}"):
            load_nwb(tmp_path / name)


@pytest.mark.data
def test_real_multiple_maps_track():
    from itertools import islice

    from repdrift.data.multiple_maps import iter_track

    folder = require_data("multiple_maps", "C6_M4", "Environment A")
    sessions = list(islice(iter_track(folder), 2))  # sessions are large: two suffice
    first = sessions[0]
    assert (first.animal, first.track, first.day, first.n_cells) == ("C6_M4", "A", 3.0, 433)
    # Trials 2–6; each cut to its imaging length (frame log) after the first frame.
    log = pd.read_csv(folder / "frameLog_1.csv")
    imaging = (log.endFrame - log.begFrame + 1).iloc[1:6].to_numpy()
    assert first.n_frames == imaging.sum() == 18132
    assert [s.day for s in sessions] == [3.0, 4.0]
    assert np.nanmin(first.position) >= 0 and np.nanmax(first.position) <= 1
    # Session 2 lost trial 6 (its behaviour and imaging lengths disagree by 668 frames).
    assert np.array_equal(np.unique(sessions[1].trial), [2, 3, 4, 5])
    assert any("trial 6" in n for n in sessions[1].notes)


@pytest.mark.data
def test_real_l_shaped_track_position_agrees_with_the_reversed_bins():
    from repdrift.data.matfile import load_mat
    from repdrift.data.multiple_maps import iter_track

    folder = require_data("multiple_maps", "C6_M4", "Environment B")
    session = next(iter_track(folder))
    movement = load_mat(folder / "behavior_1.mat")["my_mvmt"]
    binned = np.concatenate([np.ravel(movement[0, k]["binned"])[1:] for k in range(1, 6)])
    reversed_bins = np.where(binned <= 13, 14 - binned, binned)
    bins = np.ceil(session.position * 24).clip(1, 24)
    # The published code reversed bins 1–13 of `binned`; our position runs the same way.
    n = min(bins.size, reversed_bins.size)
    assert np.corrcoef(bins[:n], reversed_bins[:n])[0, 1] > 0.95
