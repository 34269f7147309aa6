"""Exceptions raised by graphrec.

``NotFittedError`` is scikit-learn's own class (so ``sklearn``'s ``check_is_fitted``
and ``except NotFittedError`` agree); it is looked up on first use, so that importing
this module (as :mod:`graphrec.data` does) does not import scikit-learn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sklearn.exceptions import NotFittedError

__all__ = ["DatasetNotFoundError", "DuplicateRowsWarning", "NotFittedError", "TrainingError"]


class TrainingError(RuntimeError):
    """Training diverged or produced non-finite values (lower the learning rate)."""


class DatasetNotFoundError(FileNotFoundError):
    """A named dataset is not on disk; the message says where it looked and how to get it."""


class DuplicateRowsWarning(UserWarning):
    """Repeated (user, item) rows were merged by the ``duplicates`` policy (the count is in the message)."""


def __getattr__(name: str) -> Any:
    if name == "NotFittedError":
        from sklearn.exceptions import NotFittedError

        return NotFittedError
    raise AttributeError(f"module 'graphrec.exceptions' has no attribute {name!r}")
