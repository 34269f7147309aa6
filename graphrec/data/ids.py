"""Mapping between external labels (user or item ids) and contiguous indices."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["IdMap"]


class IdMap:
    """Immutable bijection between external labels and indices ``0..n-1``.

    Parameters
    ----------
    labels : array-like of int or str, shape (n,)
        ``labels[i]`` is the external label of index ``i``. Labels must be unique
        and not missing.

    Raises
    ------
    ValueError
        If labels are duplicated, missing (NaN/None/empty string) or not 1-D.

    Examples
    --------
    >>> m = IdMap(["alice", "bob"])
    >>> m.to_index(["bob"]).tolist()
    [1]
    >>> m.to_labels([0]).tolist()
    ['alice']
    """

    __slots__ = ("_is_identity", "_labels", "_lookup", "_order")

    def __init__(self, labels: ArrayLike) -> None:
        arr = _as_label_array(labels)
        if arr.ndim != 1:
            raise ValueError(f"labels must be 1-D, got shape {arr.shape}")
        if arr.dtype.kind == "u" and arr.size and arr.max() > np.iinfo(np.int64).max:
            arr = arr.astype(str)  # uint64 ids beyond int64 (hashes) would wrap negative
        if arr.dtype.kind in "iu":
            arr = arr.astype(np.int64)
            is_identity = bool(len(arr) == 0 or np.array_equal(arr, np.arange(len(arr))))
        else:
            is_identity = False
        uniq = np.unique(arr)
        if len(uniq) != len(arr):
            raise ValueError(f"labels must be unique; {len(arr) - len(uniq)} duplicates found")
        arr.setflags(write=False)
        self._labels = arr
        self._lookup: dict[Any, int] | None = None
        self._order: NDArray[np.int64] | None = None
        self._is_identity = is_identity

    @classmethod
    def identity(cls, n: int) -> IdMap:
        """Map where label ``i`` is index ``i`` (ids already contiguous integers)."""
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        return cls(np.arange(n, dtype=np.int64))

    @property
    def labels(self) -> NDArray:
        """External labels in index order (read-only array)."""
        return self._labels

    @property
    def is_identity(self) -> bool:
        """True when every label equals its index."""
        return self._is_identity

    def __len__(self) -> int:
        return len(self._labels)

    def __contains__(self, label: object) -> bool:
        try:
            self.to_index([label])  # type: ignore[arg-type]  # any label; unknown ones raise
        except (KeyError, TypeError, ValueError):
            return False
        return True

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, IdMap):
            return NotImplemented
        return self._labels.dtype.kind == other._labels.dtype.kind and np.array_equal(
            self._labels, other._labels
        )

    def __hash__(self) -> int:
        return hash((len(self._labels), self._labels[:8].tobytes()))

    def __repr__(self) -> str:
        kind = "identity" if self._is_identity else str(self._labels.dtype)
        return f"IdMap(n={len(self)}, {kind})"

    def __getstate__(self) -> dict:
        return {"labels": self._labels}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["labels"])  # type: ignore[misc]

    def to_index(self, labels: ArrayLike) -> NDArray[np.int64]:
        """Indices of external ``labels``.

        Raises
        ------
        KeyError
            If any label is unknown (the first few are named).
        """
        query = np.atleast_1d(np.asarray(labels))
        if self._is_identity and query.dtype.kind in "iu":
            idx = query.astype(np.int64)
            bad = (idx < 0) | (idx >= len(self))
            if bad.any():
                raise KeyError(f"unknown ids: {query[bad][:5].tolist()}")
            return idx
        if self._labels.dtype.kind in "iu" and query.dtype.kind in "iuf":
            if query.dtype.kind == "f":
                if not np.all(np.isfinite(query)) or not np.all(query == np.round(query)):
                    raise KeyError(f"unknown ids: {query[:5].tolist()}")
                query = query.astype(np.int64)
            # Vectorised lookup through the sorted labels (no Python loop per id).
            if self._order is None:
                self._order = np.argsort(self._labels, kind="stable")
            order = self._order
            sorted_labels = self._labels[order]
            pos = np.searchsorted(sorted_labels, query)
            pos = np.clip(pos, 0, max(len(sorted_labels) - 1, 0))
            found = len(sorted_labels) > 0
            ok = sorted_labels[pos] == query if found else np.zeros(len(query), bool)
            if not np.all(ok):
                raise KeyError(f"unknown ids: {query[~ok][:5].tolist()}")
            return order[pos].astype(np.int64)
        if self._lookup is None:
            self._lookup = {lab: i for i, lab in enumerate(self._labels.tolist())}
        lookup = self._lookup
        out = np.empty(len(query), dtype=np.int64)
        for j, lab in enumerate(query.tolist()):
            i = lookup.get(lab)
            if i is None:
                i = lookup.get(str(lab)) if not isinstance(lab, str) else None
            if i is None:
                missing = [q for q in query.tolist() if q not in lookup][:5]
                raise KeyError(f"unknown ids: {missing}")
            out[j] = i
        return out

    def to_labels(self, idx: ArrayLike) -> NDArray:
        """External labels of indices ``idx``.

        Raises
        ------
        IndexError
            If any index is outside ``[0, len(self))``.
        """
        idx = np.atleast_1d(np.asarray(idx))
        if idx.dtype.kind not in "iu":
            raise TypeError(f"indices must be integers, got dtype {idx.dtype}")
        bad = (idx < 0) | (idx >= len(self))
        if bad.any():
            raise IndexError(f"indices out of range [0, {len(self)}): {idx[bad][:5].tolist()}")
        return self._labels[idx]


def _check_no_trailing_nul(values: Any) -> None:
    # numpy's fixed-width str arrays drop trailing NULs: "a\x00" would silently become
    # "a" (and collide with a real "a"), so such labels are refused instead.
    bad = next((v for v in values if isinstance(v, str) and v.endswith("\x00")), None)
    if bad is not None:
        raise ValueError(f"labels must not end with a NUL character (\\x00), got {bad!r}")


def _as_label_array(labels: ArrayLike) -> NDArray:
    if isinstance(labels, (list, tuple)):
        _check_no_trailing_nul(labels)
    arr = np.asarray(labels)
    if arr.dtype.kind == "O":
        values = arr.tolist()
        if any(v is None or (isinstance(v, float) and np.isnan(v)) for v in values):
            raise ValueError("labels contain missing values (None/NaN)")
        _check_no_trailing_nul(values)
        if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
            arr = np.asarray(values, dtype=np.int64)
        else:
            arr = np.asarray([str(v) for v in values], dtype=str)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)):
            raise ValueError("labels contain missing values (NaN)")
        if np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            arr = arr.astype(str)
    if arr.dtype.kind in "SU":
        arr = arr.astype(str)
        if arr.size and (np.char.str_len(arr) == 0).any():
            raise ValueError("labels contain empty strings")
    if arr.dtype.kind == "b":
        raise ValueError("labels must be integers or strings, got booleans")
    return np.array(arr, copy=True)
