"""Exceptions raised by graphrec."""

from sklearn.exceptions import NotFittedError

__all__ = ["DatasetNotFoundError", "NotFittedError", "TrainingError"]


class TrainingError(RuntimeError):
    """Training diverged or produced non-finite values (lower the learning rate)."""


class DatasetNotFoundError(FileNotFoundError):
    """A named dataset is not on disk; the message says where it looked and how to get it."""
