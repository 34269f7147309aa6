"""Checked arrays from what a caller hands in: id columns, weights, timestamps, text files.

The builders of :class:`graphrec.data.interactions.Interactions` (``from_arrays``,
``from_pandas``, ``from_lightgcn_txt``) share these; they raise ``ValueError`` naming
the column and what was wrong with it.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from graphrec.data.ids import IdMap
from graphrec.exceptions import DuplicateRowsWarning

__all__ = [
    "POLICIES",
    "encode_ids",
    "int64_column",
    "merge_duplicates",
    "numeric_column",
    "read_lightgcn_pairs",
    "timestamp_column",
]

# logged under the container's name, where the merge used to live
logger = logging.getLogger("graphrec.data.interactions")

POLICIES = ("sum", "max", "last", "first", "error")


def read_lightgcn_pairs(path: str | os.PathLike) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Parse ``user item item ...`` lines into (users, items) arrays.

    Vectorised: the whole file is tokenised once; only line lengths are counted per line.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such file: {path}")
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path} is a directory, not a LightGCN text file (user item item ... lines)")
    with open(path, "rb") as fh:
        raw = fh.read()
    try:
        lines = raw.decode("utf-8").splitlines()
    except UnicodeDecodeError as exc:
        at = raw[: exc.start].count(b"\n") + 1
        raise ValueError(f"{path}, line {at}: not UTF-8 text (byte {raw[exc.start]:#04x})") from None
    counts = np.fromiter((len(line.split()) for line in lines), dtype=np.int64, count=len(lines))
    text = " ".join(lines)
    try:
        tokens = np.array(text.split(), dtype=np.int64)
    except (ValueError, OverflowError):
        for n, line in enumerate(lines, 1):
            for tok in line.split():
                try:
                    value = int(tok)
                except ValueError:
                    raise ValueError(f"{path}, line {n}: non-integer token {tok!r}") from None
                if not -(2**63) <= value < 2**63:
                    raise ValueError(f"{path}, line {n}: id {tok} is out of the int64 range") from None
        raise ValueError(f"{path}: cannot read the ids as integers") from None
    if (tokens < 0).any():
        bad = int(np.flatnonzero(tokens < 0)[0])
        line_no = int(np.searchsorted(np.cumsum(counts), bad, side="right")) + 1
        raise ValueError(f"{path}, line {line_no}: negative id {tokens[bad]}")
    nonempty = counts > 0
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])[nonempty]
    n_items_per_line = counts[nonempty] - 1
    users = np.repeat(tokens[starts], n_items_per_line)
    item_mask = np.ones(len(tokens), dtype=bool)
    item_mask[starts] = False
    items = tokens[item_mask]
    if len(users) == 0:
        raise ValueError(f"{path}: no interactions found")
    return users, items


def int64_column(a: ArrayLike, name: str) -> NDArray[np.int64]:
    """A caller's 1-D integer column (``Interactions(user_idx, item_idx)``) as a fresh int64 copy.

    Checks shape and dtype only; the caller checks the range against its own
    ``n_users``/``n_items`` (and says so in its message). Not
    :func:`graphrec.utils.as_index_array`, which validates indices into a fitted model.
    """
    arr = np.asarray(a)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size and arr.dtype.kind not in "iu":
        raise ValueError(f"{name} must be integers, got dtype {arr.dtype}")
    return np.array(arr, dtype=np.int64, copy=True)


def encode_ids(ids: NDArray, n: int | None, role: str) -> tuple[NDArray[np.int64], IdMap]:
    if n is not None:
        if ids.dtype.kind not in "iu":
            raise ValueError(f"n_{role}s given, so {role} ids must be integers, got dtype {ids.dtype}")
        if ids.min() < 0 or ids.max() >= n:
            raise ValueError(f"{role} ids must lie in [0, n_{role}s={n}); found {ids.min()}..{ids.max()}")
        return ids.astype(np.int64), IdMap.identity(n)
    if ids.dtype.kind == "f":
        if not np.all(np.isfinite(ids)):
            raise ValueError(f"{role} ids contain NaN")
    elif ids.dtype.kind == "O":
        if pd.isna(ids).any():
            raise ValueError(f"{role} ids contain missing values")
        types = {type(v) for v in ids.tolist()}
        if not types <= {int, np.int64, np.int32} :
            ids = ids.astype(str)
    labels, codes = np.unique(ids, return_inverse=True)
    return codes.astype(np.int64).ravel(), IdMap(labels)


def numeric_column(a: ArrayLike, name: str, n: int) -> NDArray:
    arr = np.asarray(a)
    if arr.dtype.kind not in "iuf":
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}") from None
    if len(arr) != n:
        raise ValueError(f"{name} length {len(arr)} != number of interactions {n}")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contain NaN or inf")
    return arr


def timestamp_column(col: pd.Series, name: str) -> NDArray:
    if pd.api.types.is_datetime64_any_dtype(col):
        if col.isna().any():
            raise ValueError(f"timestamp column {name!r} has missing values")
        if col.dt.tz is not None:  # time-zone aware: Unix seconds are UTC
            col = col.dt.tz_convert("UTC").dt.tz_localize(None)
        return (col.astype("datetime64[ns]").astype("int64") // 10**9).to_numpy()
    t = pd.to_numeric(col, errors="coerce").to_numpy()
    bad = ~np.isfinite(t.astype(np.float64))
    if bad.any():
        raise ValueError(
            f"timestamp column {name!r} has {int(bad.sum())} non-numeric or missing values "
            f"(first: {col.iloc[int(np.flatnonzero(bad)[0])]!r})"
        )
    return t


def _caller_level() -> int:
    """``stacklevel`` of the first frame outside graphrec, seen from the function calling this."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    frame, level = sys._getframe(1), 1
    while frame.f_back is not None and os.path.abspath(frame.f_code.co_filename).startswith(package + os.sep):
        frame, level = frame.f_back, level + 1
    return level


def merge_duplicates(u, i, w, t, n_items, policy, users=None, items=None):
    """Merge repeated (user, item) rows by ``policy``; warn with the count merged.

    ``policy="error"`` raises ``ValueError`` naming how many rows repeat a pair and
    the first such pair (as labels when the IdMaps ``users``/``items`` are given).
    """
    keys = u * n_items + i
    if t is not None:
        order = np.lexsort((t, keys))  # by key, then time
    else:
        order = np.argsort(keys, kind="stable")  # by key, then input order
    ks = keys[order]
    first = np.ones(len(ks), dtype=bool)
    first[1:] = ks[1:] != ks[:-1]
    if first.all():
        return u, i, w, t
    n_dup = int((~first).sum())
    n_pairs = int((~first[1:] & first[:-1]).sum())
    row = order[int(np.flatnonzero(~first)[0])]
    pair = (u[row], i[row])
    if users is not None and items is not None:
        pair = (users.to_labels([u[row]])[0], items.to_labels([i[row]])[0])
    pair = tuple(v.item() if isinstance(v, np.generic) else v for v in pair)
    if policy == "error":
        raise ValueError(
            f"{n_dup} rows repeat an earlier (user, item) pair ({n_pairs} pairs; first: user "
            f"{pair[0]!r}, item {pair[1]!r}); pass duplicates='sum', 'max', 'last' or 'first' to merge them"
        )
    msg = (f"merged {n_dup} duplicate rows into {n_pairs} (user, item) pairs with duplicates={policy!r} "
           f"(first: user {pair[0]!r}, item {pair[1]!r}); pass duplicates=... to choose another policy")
    logger.info(msg)
    warnings.warn(msg, DuplicateRowsWarning, stacklevel=_caller_level())
    group = np.cumsum(first) - 1
    last = np.ones(len(ks), dtype=bool)
    last[:-1] = first[1:]
    pick = order[last] if policy in ("last", "sum", "max") else order[first]
    new_w = None
    if w is not None:
        ws = w[order].astype(np.float64)
        if policy == "sum":
            new_w = np.bincount(group, weights=ws)
        elif policy == "max":
            new_w = np.full(group[-1] + 1, -np.inf)
            np.maximum.at(new_w, group, ws)
        else:
            new_w = w[pick]
    return u[pick], i[pick], new_w, None if t is None else t[pick]
