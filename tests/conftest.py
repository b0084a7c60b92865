"""Shared test set-up."""

import os

import pytest


@pytest.fixture(autouse=True)
def _restore_cpu_affinity():
    """Commands run in-process may restrict the process to one core; undo it after."""
    if not hasattr(os, "sched_getaffinity"):
        yield
        return
    cores = os.sched_getaffinity(0)
    yield
    os.sched_setaffinity(0, cores)
