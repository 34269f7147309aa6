"""The immutable user-item interaction container.

Turning what a caller hands in (id columns, weights, timestamps, a LightGCN text
file) into checked arrays lives in :mod:`graphrec.data._columns`; this module is
the container and its views (CSR, DataFrame, subsets, k-core). It is one piece
(about 450 lines, most of them numpydoc) because it is one class: its builders and
views share its private constructor and cached state.
"""

from __future__ import annotations

import logging
import os
from functools import cached_property
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from graphrec.data._columns import (
    POLICIES,
    encode_ids,
    int64_column,
    merge_duplicates,
    numeric_column,
    read_lightgcn_pairs,
    timestamp_column,
)
from graphrec.data.ids import IdMap

__all__ = ["DuplicatePolicy", "Interactions"]

logger = logging.getLogger(__name__)

DuplicatePolicy = Literal["sum", "max", "last", "first", "error"]


class Interactions:
    """Immutable set of (user, item) interactions with optional weights and timestamps.

    Rows are stored as COO arrays of contiguous indices; an :class:`IdMap` per side
    maps them to the caller's own ids. Each (user, item) pair occurs at most once:
    the ``from_*`` constructors merge duplicates by a documented policy.

    Parameters
    ----------
    user_idx, item_idx : array-like of int, shape (nnz,)
        Internal indices, in ``[0, len(users))`` and ``[0, len(items))``.
    users, items : IdMap
        The label maps; splits of one dataset share them, so indices line up.
    weights : array-like of float, shape (nnz,), optional
        Interaction strength (rating, count). Must be finite and non-negative.
    timestamps : array-like of number, shape (nnz,), optional
        Interaction times (e.g. Unix seconds).

    Attributes
    ----------
    n_users, n_items, nnz : int
    density : float
    user_degrees, item_degrees : ndarray of int64

    Raises
    ------
    ValueError
        On mismatched lengths, out-of-range indices, duplicated pairs, or
        negative/non-finite weights.

    Examples
    --------
    >>> x = Interactions.from_arrays([0, 0, 1], [0, 1, 1], n_users=2, n_items=2)
    >>> x.nnz, x.to_csr().toarray().tolist()
    (3, [[1.0, 1.0], [0.0, 1.0]])
    """

    def __init__(
        self,
        user_idx: ArrayLike,
        item_idx: ArrayLike,
        *,
        users: IdMap,
        items: IdMap,
        weights: ArrayLike | None = None,
        timestamps: ArrayLike | None = None,
    ) -> None:
        if not isinstance(users, IdMap) or not isinstance(items, IdMap):
            raise TypeError("users and items must be IdMap instances")
        u = int64_column(user_idx, "user_idx")
        i = int64_column(item_idx, "item_idx")
        if len(u) != len(i):
            raise ValueError(f"user_idx and item_idx lengths differ: {len(u)} != {len(i)}")
        if len(u) and (u.min() < 0 or u.max() >= len(users)):
            raise ValueError(f"user_idx out of range [0, {len(users)})")
        if len(i) and (i.min() < 0 or i.max() >= len(items)):
            raise ValueError(f"item_idx out of range [0, {len(items)})")
        w = None
        if weights is not None:
            w = np.asarray(weights)
            if w.dtype.kind not in "iuf":
                raise ValueError(f"weights must be numeric, got dtype {w.dtype}")
            w = w.astype(np.float32)
            if len(w) != len(u):
                raise ValueError(f"weights length {len(w)} != number of interactions {len(u)}")
            if not np.all(np.isfinite(w)):
                raise ValueError("weights contain NaN or inf")
            if (w < 0).any():
                raise ValueError("weights must be non-negative")
        t = None
        if timestamps is not None:
            t = np.asarray(timestamps)
            if t.dtype.kind not in "iuf":
                raise ValueError(f"timestamps must be numeric, got dtype {t.dtype}")
            if len(t) != len(u):
                raise ValueError(f"timestamps length {len(t)} != number of interactions {len(u)}")
            if t.dtype.kind == "f" and not np.all(np.isfinite(t)):
                raise ValueError("timestamps contain NaN or inf")
        # Sort-based check: np.unique's hash path is ~15x slower on 1M int64 keys (numpy 2.4).
        keys = np.sort(u * len(items) + i)
        if len(keys) > 1 and bool((keys[1:] == keys[:-1]).any()):
            raise ValueError(
                "duplicate (user, item) pairs; build with a from_* constructor and a duplicates policy"
            )
        for arr in (u, i, w, t):
            if arr is not None:
                arr.setflags(write=False)
        self.user_idx: NDArray[np.int64] = u
        self.item_idx: NDArray[np.int64] = i
        self.weights: NDArray[np.float32] | None = w
        self.timestamps: NDArray | None = t
        self.users = users
        self.items = items

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_arrays(
        cls,
        users: ArrayLike,
        items: ArrayLike,
        *,
        weights: ArrayLike | None = None,
        timestamps: ArrayLike | None = None,
        n_users: int | None = None,
        n_items: int | None = None,
        duplicates: DuplicatePolicy = "sum",
    ) -> Interactions:
        """Build from parallel arrays of user and item ids.

        When ``n_users``/``n_items`` are given, ids must be integers in ``[0, n)`` and
        are used as indices directly (identity maps, so published splits line up).
        Otherwise ids (ints or strings) are mapped to indices in sorted order.

        Parameters
        ----------
        users, items : array-like, shape (nnz,)
        weights, timestamps : array-like, shape (nnz,), optional
        n_users, n_items : int, optional
        duplicates : {"sum", "max", "last", "first", "error"}, default "sum"
            How to merge repeated (user, item) pairs: sum or max of weights, or keep
            the last/first by timestamp (input order without timestamps); "error"
            refuses them (``ValueError`` naming the first repeated pair). The merged
            row keeps the latest timestamp for "sum" and "max". Merging emits a
            :class:`~graphrec.exceptions.DuplicateRowsWarning` that says how many rows
            were merged into how many pairs. The default suits implicit feedback,
            where each row is one event (a play, a click, a check-in): summing keeps
            the total count as the pair's weight (the confidence ALS reads), and
            models that ignore weights see the pair once either way. Use "max" or
            "last" for explicit ratings re-entered over time, "error" when a repeat
            means broken input.

        Returns
        -------
        Interactions

        Raises
        ------
        ValueError
            Empty input, mismatched lengths, missing ids, bad weights, ids out of range,
            repeated pairs with ``duplicates="error"``.

        Warns
        -----
        DuplicateRowsWarning
            Repeated (user, item) rows were merged (how many, and the first pair).
        """
        users = np.asarray(users)
        items = np.asarray(items)
        if users.ndim != 1 or items.ndim != 1:
            raise ValueError("users and items must be 1-D arrays")
        if len(users) != len(items):
            raise ValueError(f"users and items lengths differ: {len(users)} != {len(items)}")
        if len(users) == 0:
            raise ValueError("no interactions: users and items are empty")
        if duplicates not in POLICIES:
            raise ValueError(f"duplicates must be one of {POLICIES}, got {duplicates!r}")
        u, umap = encode_ids(users, n_users, "user")
        i, imap = encode_ids(items, n_items, "item")
        w = None if weights is None else numeric_column(weights, "weights", len(u))
        t = None if timestamps is None else numeric_column(timestamps, "timestamps", len(u))
        u, i, w, t = merge_duplicates(u, i, w, t, len(imap), duplicates, umap, imap)
        return cls(u, i, users=umap, items=imap, weights=w, timestamps=t)

    @classmethod
    def from_pandas(
        cls,
        df: pd.DataFrame,
        user: str = "user_id",
        item: str = "item_id",
        rating: str | None = None,
        timestamp: str | None = None,
        *,
        min_rating: float | None = None,
        duplicates: DuplicatePolicy = "sum",
    ) -> Interactions:
        """Build from a DataFrame with named columns.

        Parameters
        ----------
        df : pandas.DataFrame
        user, item : str
            Column names of the user and item ids (ints or strings).
        rating : str, optional
            Column of explicit ratings/weights. Without ``min_rating`` the ratings
            become weights; with it, rows with ``rating < min_rating`` are removed
            (counted in the log) and the rest become implicit (unweighted).
        timestamp : str, optional
            Column of times: numbers, or datetimes (converted to Unix seconds).
        min_rating : float, optional
            Threshold that turns explicit ratings into implicit feedback.
        duplicates : {"sum", "max", "last", "first", "error"}, default "sum"
            See :meth:`from_arrays`.

        Raises
        ------
        KeyError
            A named column is missing (the available columns are listed).
        ValueError
            Empty frame, missing ids, non-numeric ratings or timestamps.
        """
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"df must be a pandas DataFrame, got {type(df).__name__}")
        for role, col in (("user", user), ("item", item), ("rating", rating), ("timestamp", timestamp)):
            if col is not None and col not in df.columns:
                raise KeyError(
                    f"{role} column {col!r} not found; available columns: {list(df.columns)}"
                )
        if min_rating is not None and rating is None:
            raise ValueError("min_rating needs a rating column (rating=...)")
        if len(df) == 0:
            raise ValueError("no interactions: the DataFrame is empty")
        for role, col in (("user", user), ("item", item)):
            missing = df[col].isna() | (df[col].astype(str).str.strip() == "")
            if missing.any():
                raise ValueError(
                    f"{role} column {col!r} has {int(missing.sum())} missing or empty ids "
                    f"(first at row {int(np.flatnonzero(missing.to_numpy())[0])})"
                )
        weights = None
        keep = np.ones(len(df), dtype=bool)
        if rating is not None:
            r = pd.to_numeric(df[rating], errors="coerce").to_numpy(dtype=np.float64)
            bad = ~np.isfinite(r)
            if bad.any():
                raise ValueError(
                    f"rating column {rating!r} has {int(bad.sum())} non-numeric or missing values "
                    f"(first: {df[rating].iloc[int(np.flatnonzero(bad)[0])]!r})"
                )
            if min_rating is not None:
                keep = r >= min_rating
                logger.info("min_rating=%s keeps %d of %d rows", min_rating, keep.sum(), len(r))
                if not keep.any():
                    raise ValueError(f"no rating >= min_rating={min_rating} in column {rating!r}")
            else:
                weights = r
        times = None
        if timestamp is not None:
            times = timestamp_column(df[timestamp], timestamp)
        return cls.from_arrays(
            df[user].to_numpy()[keep],
            df[item].to_numpy()[keep],
            weights=None if weights is None else weights[keep],
            timestamps=None if times is None else times[keep],
            duplicates=duplicates,
        )

    @classmethod
    def from_csv(
        cls,
        path: str | os.PathLike,
        user: str = "user_id",
        item: str = "item_id",
        rating: str | None = None,
        timestamp: str | None = None,
        *,
        min_rating: float | None = None,
        duplicates: DuplicatePolicy = "sum",
        sep: str = ",",
    ) -> Interactions:
        """Read a CSV (or Parquet, by ``.parquet`` suffix) file; see :meth:`from_pandas`.

        Raises
        ------
        FileNotFoundError
            The file does not exist.
        IsADirectoryError
            ``path`` is a folder.
        graphrec.exceptions.MalformedFileError
            An empty file, or a line that cannot be parsed (named by its number).
        """
        from graphrec.data._readers import read_table  # folder, empty file, bad line: clear errors

        df = read_table(path, sep=sep)
        return cls.from_pandas(
            df, user, item, rating, timestamp, min_rating=min_rating, duplicates=duplicates
        )

    from_parquet = from_csv

    @classmethod
    def from_lightgcn_txt(
        cls, path: str | os.PathLike, *, n_users: int | None = None, n_items: int | None = None
    ) -> Interactions:
        """Read the LightGCN text format: one line per user, ``user item item ...``.

        Ids are 0-based integers used as indices directly. ``n_users``/``n_items``
        default to the largest id + 1 (pass the union over train and test files so
        both share one index space).

        Raises
        ------
        ValueError
            A line holds a non-integer or negative token (its line number is named).
        """
        u, i = read_lightgcn_pairs(path)
        n_users = int(u.max()) + 1 if n_users is None else n_users
        n_items = int(i.max()) + 1 if n_items is None else n_items
        return cls.from_arrays(u, i, n_users=n_users, n_items=n_items)

    # ------------------------------------------------------------------ views
    @property
    def n_users(self) -> int:
        """Number of users in the index space (including users without rows)."""
        return len(self.users)

    @property
    def n_items(self) -> int:
        """Number of items in the index space (including items without rows)."""
        return len(self.items)

    @property
    def nnz(self) -> int:
        """Number of (user, item) interactions."""
        return len(self.user_idx)

    def __len__(self) -> int:
        return self.nnz

    @property
    def density(self) -> float:
        """``nnz / (n_users * n_items)``."""
        return self.nnz / max(self.n_users * self.n_items, 1)

    @cached_property
    def user_degrees(self) -> NDArray[np.int64]:
        """Interactions per user, shape (n_users,)."""
        return np.bincount(self.user_idx, minlength=self.n_users).astype(np.int64)

    @cached_property
    def item_degrees(self) -> NDArray[np.int64]:
        """Interactions per item, shape (n_items,)."""
        return np.bincount(self.item_idx, minlength=self.n_items).astype(np.int64)

    def to_csr(self) -> sp.csr_array:
        """User x item matrix (float32; weights, or 1 without weights), cached.

        Returns a shared read-only matrix: copy it before modifying.
        """
        cached = self.__dict__.get("_csr")
        if cached is None:
            data = np.ones(self.nnz, np.float32) if self.weights is None else self.weights
            cached = sp.csr_array(
                (data, (self.user_idx, self.item_idx)), shape=(self.n_users, self.n_items)
            )
            cached.sort_indices()
            for arr in (cached.data, cached.indices, cached.indptr):
                arr.setflags(write=False)
            self.__dict__["_csr"] = cached
        return cached

    def to_pandas(self) -> pd.DataFrame:
        """Rows as a DataFrame of external ids: user, item[, weight][, timestamp]."""
        df = pd.DataFrame(
            {"user": self.users.to_labels(self.user_idx), "item": self.items.to_labels(self.item_idx)}
        )
        if self.weights is not None:
            df["weight"] = self.weights
        if self.timestamps is not None:
            df["timestamp"] = self.timestamps
        return df

    def subset(self, rows: ArrayLike) -> Interactions:
        """Rows selected by a boolean mask or index array, on the same IdMaps."""
        rows = np.asarray(rows)
        if rows.dtype == bool and len(rows) != self.nnz:
            raise ValueError(f"mask length {len(rows)} != nnz {self.nnz}")
        pick = (lambda a: None if a is None else a[rows])
        return Interactions(
            self.user_idx[rows],
            self.item_idx[rows],
            users=self.users,
            items=self.items,
            weights=pick(self.weights),
            timestamps=pick(self.timestamps),
        )

    def compact(self) -> Interactions:
        """Drop users and items without interactions and re-index the rest."""
        ukeep = np.flatnonzero(self.user_degrees > 0)
        ikeep = np.flatnonzero(self.item_degrees > 0)
        unew = np.full(self.n_users, -1, np.int64)
        unew[ukeep] = np.arange(len(ukeep))
        inew = np.full(self.n_items, -1, np.int64)
        inew[ikeep] = np.arange(len(ikeep))
        return Interactions(
            unew[self.user_idx],
            inew[self.item_idx],
            users=IdMap(self.users.labels[ukeep]),
            items=IdMap(self.items.labels[ikeep]),
            weights=self.weights,
            timestamps=self.timestamps,
        )

    def k_core(self, min_user_degree: int = 5, min_item_degree: int = 5) -> Interactions:
        """Repeatedly drop users/items with fewer interactions than the minimums.

        Returns a compacted (re-indexed) copy; logs how much was removed.
        """
        if min_user_degree < 1 or min_item_degree < 1:
            raise ValueError("min_user_degree and min_item_degree must be >= 1")
        keep = np.ones(self.nnz, dtype=bool)
        while True:
            ud = np.bincount(self.user_idx[keep], minlength=self.n_users)
            idg = np.bincount(self.item_idx[keep], minlength=self.n_items)
            new = keep & (ud[self.user_idx] >= min_user_degree) & (idg[self.item_idx] >= min_item_degree)
            if new.sum() == keep.sum():
                break
            keep = new
        if not keep.any():
            raise ValueError(
                f"k-core with min_user_degree={min_user_degree}, min_item_degree={min_item_degree} "
                "removes every interaction"
            )
        logger.info("k-core keeps %d of %d interactions", keep.sum(), self.nnz)
        return self.subset(keep).compact()

    def __repr__(self) -> str:
        extras = [n for n, a in (("weights", self.weights), ("timestamps", self.timestamps)) if a is not None]
        extra = f", with {' and '.join(extras)}" if extras else ""
        return (
            f"Interactions(n_users={self.n_users:,}, n_items={self.n_items:,}, nnz={self.nnz:,}, "
            f"density={self.density:.4%}{extra})"
        )
