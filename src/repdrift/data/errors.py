"""The error raised for unusable input data."""

from __future__ import annotations

from pathlib import Path
from typing import Any


class DataError(ValueError):
    """An input file or folder is missing, corrupt, mismatched or not a known layout.

    The message is one line that names the file and the problem, fit to show a user.
    """

    def __init__(self, path: str | Path | None, problem: str) -> None:
        self.path = None if path is None else Path(path)
        self.problem = problem
        super().__init__(problem if path is None else f"{path}: {problem}")

    def __reduce__(self) -> tuple[Any, ...]:
        # An error raised in a worker process reaches the parent pickled: rebuilt from
        # its message and attributes (the default, ``DataError(message)``, fails for want
        # of ``problem``, and the pool then reports a dead worker instead of the error).
        return (_rebuild, (type(self), self.args, self.__dict__))


def _rebuild(cls: type[DataError], args: tuple[Any, ...], state: dict[str, Any]) -> DataError:
    error = cls.__new__(cls)
    ValueError.__init__(error, *args)
    error.__dict__.update(state)
    return error
