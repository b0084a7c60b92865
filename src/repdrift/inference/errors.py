"""The error raised for unusable input to the inference tools."""

from __future__ import annotations


class InferenceError(ValueError):
    """A library, model or target that cannot be used, stated in one line.

    Raised for a folder that is not a sweep, a run or a sessions table; a model folder
    that is missing, corrupt or written by another version; a target that lacks the
    records a feature tier needs. ``repdrift`` prints the message and exits with status 2.
    """
