"""Train/test/validation splits of :class:`~graphrec.data.interactions.Interactions`.

Every split returns parts that live on the *same* :class:`~graphrec.data.ids.IdMap`
objects as the input, so internal indices line up between train, validation and test.
No row is ever dropped or duplicated: the parts partition the input rows. Users or
items that end up only in the test (or validation) part are kept and counted by
:meth:`Split.report`.

All per-user splits are vectorised (random keys or timestamps, a ``lexsort`` by user
and rank within each user's group); none loops over users in Python.
"""

from __future__ import annotations

import logging
import numbers
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from graphrec.data.interactions import Interactions

__all__ = [
    "Split",
    "leave_last_out",
    "random_holdout",
    "temporal_split",
    "user_kfold",
    "validation_split",
]

logger = logging.getLogger(__name__)

RandomState = int | np.random.Generator | None


@dataclass(frozen=True)
class Split:
    """Train, test and optional validation interactions on one index space.

    Parameters
    ----------
    train, test : Interactions
    valid : Interactions, optional

    Raises
    ------
    TypeError
        A part is not an :class:`Interactions`.
    ValueError
        The parts do not share the same user and item IdMaps.

    Examples
    --------
    >>> x = Interactions.from_arrays([0, 0, 0, 1, 1], [0, 1, 2, 0, 1])
    >>> sp = random_holdout(x, test_size=1)
    >>> sp.train.nnz, sp.test.nnz
    (3, 2)
    """

    train: Interactions
    test: Interactions
    valid: Interactions | None = None

    def __post_init__(self) -> None:
        for name, part in self._parts():
            if not isinstance(part, Interactions):
                raise TypeError(f"Split.{name} must be Interactions, got {type(part).__name__}")
            if not (part.users == self.train.users and part.items == self.train.items):
                raise ValueError(f"Split.{name} is not on the same user/item IdMaps as Split.train")

    def _parts(self) -> list[tuple[str, Interactions]]:
        parts = [("train", self.train), ("test", self.test)]
        if self.valid is not None:
            parts.append(("valid", self.valid))
        return parts

    def report(self) -> dict[str, int]:
        """Sizes of the parts and users/items absent from train (cold start).

        Returns
        -------
        dict
            ``n_train``, ``n_test``, ``n_valid``; ``test_users`` (users with test rows);
            ``test_only_users`` / ``test_only_items``: users/items with test rows but no
            train rows (kept, never dropped; a model cannot score them from history);
            likewise ``valid_only_users`` / ``valid_only_items``.
        """
        tr_u = self.train.user_degrees > 0
        tr_i = self.train.item_degrees > 0
        out = {
            "n_train": self.train.nnz,
            "n_test": self.test.nnz,
            "n_valid": 0 if self.valid is None else self.valid.nnz,
            "test_users": int((self.test.user_degrees > 0).sum()),
        }
        for name, part in self._parts()[1:]:
            out[f"{name}_only_users"] = int(((part.user_degrees > 0) & ~tr_u).sum())
            out[f"{name}_only_items"] = int(((part.item_degrees > 0) & ~tr_i).sum())
        if self.valid is None:
            out["valid_only_users"] = out["valid_only_items"] = 0
        return out

    def __repr__(self) -> str:
        r = self.report()
        valid = f", valid={r['n_valid']:,}" if self.valid is not None else ""
        return (
            f"Split(train={r['n_train']:,}, test={r['n_test']:,}{valid}; "
            f"test-only users={r['test_only_users']}, items={r['test_only_items']})"
        )


# ---------------------------------------------------------------------- helpers
def _rng(random_state: RandomState) -> np.random.Generator:
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is not None and (
        isinstance(random_state, bool) or not isinstance(random_state, numbers.Integral) or random_state < 0
    ):
        raise ValueError(f"random_state must be an int >= 0, a numpy Generator or None, got {random_state!r}")
    return np.random.default_rng(random_state)


def _check_interactions(x: object, name: str = "x") -> Interactions:
    if not isinstance(x, Interactions):
        raise TypeError(f"{name} must be Interactions, got {type(x).__name__}")
    if x.nnz == 0:
        raise ValueError(f"{name} has no interactions")
    return x


def _per_user_count(size: float, degrees: NDArray[np.int64], name: str) -> NDArray[np.int64]:
    """Rows to hold out per user: ``size`` itself if an int >= 1, else round(size * degree)."""
    if isinstance(size, (bool, np.bool_)):  # a bad value for a size, as in scikit-learn
        raise ValueError(f"{name} must be a fraction in (0, 1) or an int >= 1, got {size!r}")  # noqa: TRY004
    if isinstance(size, (int, np.integer)):
        if size < 1:
            raise ValueError(f"{name} must be a fraction in (0, 1) or an int >= 1, got {size!r}")
        return np.full(len(degrees), int(size), dtype=np.int64)
    if not (isinstance(size, (float, np.floating)) and 0.0 < size < 1.0):
        raise ValueError(f"{name} must be a fraction in (0, 1) or an int >= 1, got {size!r}")
    return np.floor(size * degrees + 0.5).astype(np.int64)


def _holdout_by_rank(
    x: Interactions, keys: NDArray, n_hold: NDArray[np.int64], min_train: int
) -> NDArray[np.bool_]:
    """Mask of held-out rows: per user, the ``n_hold[u]`` rows with the largest ``keys``.

    Each user keeps at least ``min_train`` rows (users with fewer keep them all).
    Ties in ``keys`` go by row order (the later row is held out first).
    """
    if min_train < 0:
        raise ValueError(f"min_train must be >= 0, got {min_train}")
    deg = x.user_degrees
    n_hold = np.clip(np.minimum(n_hold, deg - min_train), 0, None)
    # Sort rows by user, then by key descending (row order breaks ties, later first).
    rows = np.arange(x.nnz)
    keys = keys.astype(np.int64) if keys.dtype.kind in "ub" else keys
    order = np.lexsort((-rows, -keys, x.user_idx))
    starts = np.concatenate([[0], np.cumsum(deg)[:-1]])
    rank = np.empty(x.nnz, dtype=np.int64)
    rank[order] = np.arange(x.nnz) - starts[x.user_idx[order]]
    return rank < n_hold[x.user_idx]


def _split_mask(x: Interactions, hold: NDArray[np.bool_]) -> tuple[Interactions, Interactions]:
    return x.subset(~hold), x.subset(hold)


def _empty_like(x: Interactions) -> Interactions:
    return x.subset(np.zeros(x.nnz, dtype=bool))


# ---------------------------------------------------------------------- splits
def random_holdout(
    x: Interactions,
    test_size: float = 0.2,
    *,
    min_train: int = 1,
    random_state: RandomState = 0,
) -> Split:
    """Per-user random holdout.

    Each user's rows are shuffled (one random key per row) and the first
    ``round(test_size * degree)`` go to test (or ``test_size`` rows if it is an int),
    always leaving at least ``min_train`` rows in train. Users with
    ``degree <= min_train`` (and users whose fraction rounds to 0) have no test rows.

    Parameters
    ----------
    x : Interactions
    test_size : float in (0, 1) or int >= 1
        Fraction of each user's rows (rounded half up), or a count per user.
    min_train : int, default 1
        Rows each user keeps in train.
    random_state : int, numpy Generator or None
        Seed; the same seed gives the same split.

    Returns
    -------
    Split
        ``train`` and ``test`` on the IdMaps of ``x``; ``valid`` is None.

    Raises
    ------
    TypeError
        ``x`` is not Interactions.
    ValueError
        Empty ``x``, bad ``test_size`` or negative ``min_train``.

    Examples
    --------
    >>> x = Interactions.from_arrays([0] * 5 + [1] * 5, list(range(5)) * 2)
    >>> sp = random_holdout(x, test_size=0.2, random_state=0)
    >>> sp.test.user_degrees.tolist()
    [1, 1]
    """
    x = _check_interactions(x)
    n_hold = _per_user_count(test_size, x.user_degrees, "test_size")
    keys = _rng(random_state).random(x.nnz)
    hold = _holdout_by_rank(x, keys, n_hold, min_train)
    return Split(*_split_mask(x, hold))


def leave_last_out(x: Interactions, n: float = 1, *, min_train: int = 1) -> Split:
    """Per-user temporal holdout: each user's latest ``n`` rows go to test.

    Parameters
    ----------
    x : Interactions
        Must have timestamps.
    n : int >= 1 or float in (0, 1), default 1
        Rows per user to hold out, or the fraction of each user's rows (the latest
        ``round(n * degree)``). Equal timestamps are ordered by row position.
    min_train : int, default 1
        Rows each user keeps in train.

    Returns
    -------
    Split

    Raises
    ------
    ValueError
        ``x`` has no timestamps, is empty, or ``n`` is invalid.

    Examples
    --------
    >>> x = Interactions.from_arrays([0, 0, 0], [0, 1, 2], timestamps=[30, 10, 20])
    >>> leave_last_out(x).test.item_idx.tolist()
    [0]
    """
    x = _check_interactions(x)
    if x.timestamps is None:
        raise ValueError("leave_last_out needs timestamps; x.timestamps is None")
    n_hold = _per_user_count(n, x.user_degrees, "n")
    hold = _holdout_by_rank(x, x.timestamps, n_hold, min_train)
    return Split(*_split_mask(x, hold))


def temporal_split(
    x: Interactions, test_size: float | None = 0.2, *, cutoff: float | None = None
) -> Split:
    """Global time cut: every row at or after the cutoff goes to test.

    Parameters
    ----------
    x : Interactions
        Must have timestamps.
    test_size : float in (0, 1), default 0.2
        Used when ``cutoff`` is None: the cutoff is the timestamp of the row at
        position ``nnz - round(test_size * nnz)`` in time order, so about that
        fraction lands in test (more if rows share the cutoff timestamp; if that
        would leave train empty, the cutoff moves to the next later timestamp).
    cutoff : number, optional
        Explicit cutoff time (same unit as ``x.timestamps``); overrides ``test_size``.

    Returns
    -------
    Split
        Users or items first seen after the cutoff appear only in test; see
        :meth:`Split.report`.

    Raises
    ------
    ValueError
        No timestamps, bad ``test_size``, or a cut leaving train or test empty.

    Examples
    --------
    >>> x = Interactions.from_arrays([0, 1, 2, 3], [0, 1, 2, 3], timestamps=[1, 2, 3, 4])
    >>> temporal_split(x, cutoff=3).test.nnz
    2
    """
    x = _check_interactions(x)
    if x.timestamps is None:
        raise ValueError("temporal_split needs timestamps; x.timestamps is None")
    t = x.timestamps
    if cutoff is None:
        if isinstance(test_size, bool) or not isinstance(test_size, numbers.Real) or not 0.0 < test_size < 1.0:
            raise ValueError(f"test_size must be in (0, 1), got {test_size!r}")
        n_test = max(1, int(np.floor(test_size * x.nnz + 0.5)))
        ts = np.sort(t)
        cutoff = ts[x.nnz - n_test]
        if cutoff == ts[0] and ts[-1] > ts[0]:  # ties would empty train: cut one step later
            cutoff = ts[np.searchsorted(ts, ts[0], side="right")]
    hold = t >= cutoff
    if hold.all() or not hold.any():
        raise ValueError(
            f"cutoff={cutoff} leaves {'train' if hold.all() else 'test'} empty "
            f"(timestamps span {t.min()}..{t.max()})"
        )
    sp = Split(*_split_mask(x, hold))
    r = sp.report()
    if r["test_only_users"] or r["test_only_items"]:
        logger.info(
            "temporal_split: %d users and %d items appear only in test",
            r["test_only_users"],
            r["test_only_items"],
        )
    return sp


def validation_split(
    split_or_interactions: Split | Interactions,
    valid_size: float = 0.1,
    *,
    method: Literal["random", "last"] = "random",
    min_train: int = 1,
    random_state: RandomState = 0,
) -> Split:
    """Carve a validation part out of the training rows.

    Parameters
    ----------
    split_or_interactions : Split or Interactions
        With a Split, its ``train`` is divided and ``test`` is kept. With
        Interactions, those rows are divided and the returned ``test`` is empty
        (same IdMaps): use ``.train`` and ``.valid``.
    valid_size : float in (0, 1) or int >= 1, default 0.1
        Per user: a fraction of the training rows (rounded half up) or a count.
    method : {"random", "last"}
        "random": as :func:`random_holdout`; "last": each user's latest rows by
        timestamp, as :func:`leave_last_out`.
    min_train : int, default 1
        Rows each user keeps in train.
    random_state : int, numpy Generator or None
        Seed for ``method="random"``.

    Returns
    -------
    Split
        ``train`` (what is left), ``valid`` (the carved rows) and ``test``.

    Raises
    ------
    TypeError
        Wrong input type.
    ValueError
        Bad ``method`` or ``valid_size``, a Split that already has ``valid``, or
        ``method="last"`` without timestamps.

    Examples
    --------
    >>> x = Interactions.from_arrays([0] * 10, list(range(10)))
    >>> validation_split(random_holdout(x), 0.1).report()["n_valid"]
    1
    """
    if isinstance(split_or_interactions, Split):
        if split_or_interactions.valid is not None:
            raise ValueError("split already has a validation part")
        train, test = split_or_interactions.train, split_or_interactions.test
    elif isinstance(split_or_interactions, Interactions):
        train, test = split_or_interactions, None
    else:
        raise TypeError(
            f"split_or_interactions must be Split or Interactions, "
            f"got {type(split_or_interactions).__name__}"
        )
    if method == "random":
        inner = random_holdout(train, valid_size, min_train=min_train, random_state=random_state)
    elif method == "last":
        if train.timestamps is None:
            raise ValueError("method='last' needs timestamps; train.timestamps is None")
        inner = leave_last_out(train, valid_size, min_train=min_train)
    else:
        raise ValueError(f"method must be 'random' or 'last', got {method!r}")
    return Split(train=inner.train, test=_empty_like(train) if test is None else test, valid=inner.test)


def user_kfold(
    x: Interactions,
    n_splits: int = 5,
    *,
    random_state: RandomState = 0,
) -> list[Split]:
    """Per-user K-fold cross-validation: each user's rows are dealt into ``n_splits`` folds.

    Each user's rows are shuffled (one random key per row) and dealt round-robin from a
    random starting fold, so every user with at least ``n_splits`` rows has rows in every
    fold, and fold sizes per user differ by at most one. Split ``f`` holds fold ``f`` as
    ``test`` and every other fold as ``train``: the test parts partition the rows of
    ``x``, and no row is in the train and test part of one split. Users with fewer
    rows than folds have test rows in only some splits (and, with one row, no train
    rows in that split).

    Parameters
    ----------
    x : Interactions
    n_splits : int, default 5
        Number of folds, >= 2.
    random_state : int, numpy Generator or None
        Seed; the same seed gives the same folds.

    Returns
    -------
    list of Split
        ``n_splits`` splits on the IdMaps of ``x`` (``valid`` is None).

    Raises
    ------
    TypeError
        ``x`` is not Interactions.
    ValueError
        Empty ``x`` or ``n_splits`` < 2.

    Examples
    --------
    >>> x = Interactions.from_arrays([0] * 6 + [1] * 4, list(range(6)) + list(range(4)))
    >>> folds = user_kfold(x, 2, random_state=0)
    >>> [f.test.nnz for f in folds], [f.train.nnz for f in folds]
    ([5, 5], [5, 5])
    """
    x = _check_interactions(x)
    if isinstance(n_splits, (bool, np.bool_)) or not isinstance(n_splits, (int, np.integer)) or n_splits < 2:
        raise ValueError(f"n_splits must be an integer >= 2, got {n_splits!r}")
    rng = _rng(random_state)
    keys = rng.random(x.nnz)
    # rank of each row within its user's shuffled rows (vectorised: lexsort by user, then key)
    order = np.lexsort((keys, x.user_idx))
    deg = x.user_degrees
    starts = np.concatenate([[0], np.cumsum(deg)[:-1]])
    rank = np.empty(x.nnz, dtype=np.int64)
    rank[order] = np.arange(x.nnz) - starts[x.user_idx[order]]
    offset = rng.integers(0, n_splits, size=len(deg))
    fold = (rank + offset[x.user_idx]) % n_splits
    return [Split(*_split_mask(x, fold == f)) for f in range(int(n_splits))]
