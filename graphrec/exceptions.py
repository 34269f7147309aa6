"""Exceptions raised by graphrec.

``NotFittedError`` is scikit-learn's own class (so ``sklearn``'s ``check_is_fitted``
and ``except NotFittedError`` agree); it is looked up on first use, so that importing
this module (as :mod:`graphrec.data` does) does not import scikit-learn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sklearn.exceptions import NotFittedError

__all__ = [
    "ColdStartError",
    "DatasetNotFoundError",
    "DuplicateRowsWarning",
    "MalformedFileError",
    "MemoryCeilingError",
    "NotFittedError",
    "TrainingError",
    "UnknownIdError",
]


class TrainingError(RuntimeError):
    """Training diverged or produced non-finite values (lower the learning rate)."""


class MemoryCeilingError(MemoryError):
    """A run passed the memory ceiling set with :class:`graphrec.memory.MemoryGuard` and was stopped."""


class UnknownIdError(KeyError):
    """A user or item id that the model (its training data) does not know; the message names it."""

    def __str__(self) -> str:  # KeyError quotes its message; this one is a sentence
        return str(self.args[0]) if self.args else ""


class ColdStartError(ValueError):
    """A new user's items cannot be used: none given, or an item listed twice (the message says which)."""


class MalformedFileError(ValueError):
    """A data file that cannot be read as a table: empty, or a malformed line (named with its number)."""


class DatasetNotFoundError(FileNotFoundError):
    """A named dataset is not on disk; the message says where it looked and how to get it."""


class DuplicateRowsWarning(UserWarning):
    """Repeated (user, item) rows were merged by the ``duplicates`` policy (the count is in the message)."""


def __getattr__(name: str) -> Any:
    if name == "NotFittedError":
        from sklearn.exceptions import NotFittedError

        return NotFittedError
    raise AttributeError(f"module 'graphrec.exceptions' has no attribute {name!r}")
