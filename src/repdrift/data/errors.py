"""The error raised for unusable input data."""

from __future__ import annotations

from pathlib import Path


class DataError(ValueError):
    """An input file or folder is missing, corrupt, mismatched or not a known layout.

    The message is one line that names the file and the problem, fit to show a user.
    """

    def __init__(self, path: str | Path | None, problem: str) -> None:
        self.path = None if path is None else Path(path)
        self.problem = problem
        super().__init__(problem if path is None else f"{path}: {problem}")
