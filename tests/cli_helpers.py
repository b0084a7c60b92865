"""Helpers for tests of the ``repdrift`` command run in-process."""

from __future__ import annotations

import os

import pytest

from repdrift.cli import main


def run_cli(argv, capsys) -> tuple[int, str, str]:
    """Run ``repdrift ARGV`` in this process; its exit status, stdout and stderr."""
    with pytest.raises(SystemExit) as info:
        main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return info.value.code, out, err


def assert_one_error_line(err: str, *needles: str) -> None:
    """``err`` is one line, ``repdrift: error: ...``, holding every needle, no traceback."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("repdrift: error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], (needle, err)


def deny_writing(monkeypatch, *names: str) -> None:
    """Make the folders called ``names`` read-only as the operating system answers for them.

    The tests may run as root, whom permissions do not stop, so ``os.access`` is what is
    changed (for write access only: typer checks read access on some paths).
    """
    access = os.access

    def read_only(path, mode, *args, **kwargs):
        if mode & os.W_OK and os.path.basename(path) in names:
            return False
        return access(path, mode, *args, **kwargs)

    monkeypatch.setattr(os, "access", read_only)
