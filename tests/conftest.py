"""Shared test set-up.

In CI (``CI`` set to ``true`` or ``1``, as CI services and ``.ci/run`` do), a test that
needs the recorded data fails instead of skipping when the data are missing: a CI run
that silently checked nothing on real recordings must not pass.
"""

import os
from collections import Counter

import pytest

pytest_plugins = ("pytester",)

#: The reason ``test_data_fixtures.require_data`` gives when it skips.
MISSING_DATA = "recorded data not found"


def in_ci() -> bool:
    """Whether these tests run in CI."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not (report.skipped and in_ci()) or hasattr(report, "wasxfail"):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    reason = reason.removeprefix("Skipped: ")
    if item.get_closest_marker("data") is not None or MISSING_DATA in reason:
        report.outcome = "failed"
        report.longrepr = f"in CI a test that needs the recorded data may not skip: {reason}"


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """Files marked ``long`` first, then files with more tests before files with fewer.

    The suites run their files in parallel, a file whole in one worker process
    (``--dist loadfile``, in the order collected: ``--no-loadscope-reorder``). A file that
    takes many minutes started late keeps one worker busy alone to the end: ordered by
    its number of tests, the slow suite's inference library (two tests, the longest file)
    started 18 minutes into the suite on a slow host. Runs after deselection (``-m``), so
    the counts are of the tests that will run.
    """
    counts = Counter(item.path for item in items)
    long_files = {item.path for item in items if item.get_closest_marker("long") is not None}
    items.sort(key=lambda item: (item.path not in long_files, -counts[item.path], str(item.path)))


@pytest.fixture(autouse=True)
def _restore_cpu_affinity():
    """Commands run in-process may change the cores the process may use; undo it after."""
    if not hasattr(os, "sched_getaffinity"):
        yield
        return
    cores = os.sched_getaffinity(0)
    yield
    os.sched_setaffinity(0, cores)
