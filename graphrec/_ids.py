"""One id convention at the user's door: ``ids="raw"`` (the caller's own ids) or ``ids="index"``.

Every user-facing call that takes users or items has an ``ids`` keyword:

* ``"raw"``: the ids as they appear in the training data (the labels of the model's
  ``users_`` / ``items_`` :class:`~graphrec.data.ids.IdMap`); results name items by
  their ids too;
* ``"index"``: the contiguous internal indices ``Interactions`` assigned.

The estimator's array API (``score``, ``recommend``, ``similar_items``,
``similar_users``; STYLE.md's fixed contract) reads indices unless told ``ids="raw"``.
The doors built for people (cold start, explanations, neighbourhood views) move to
``"raw"``: while their ``ids`` is not given they read indices and, where the model's ids
are not the indices themselves, warn (``FutureWarning``) that the default becomes
``"raw"`` in graphrec 0.3.0 (CHANGELOG's deprecation policy). Private module: the
public names are the ``ids`` keywords and :class:`graphrec.exceptions.UnknownIdError`.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from graphrec.exceptions import UnknownIdError
from graphrec.utils import as_index_array

IDS = ("index", "raw")
RAW_DEFAULT_RELEASE = "0.3.0"


def check_ids(ids: object) -> str:
    """``ids`` validated: "index" or "raw".

    Raises
    ------
    ValueError
        Anything else.
    """
    if ids not in IDS:
        raise ValueError(f"ids must be 'raw' (your own ids) or 'index' (internal indices), got {ids!r}")
    return str(ids)


def door_ids(ids: object, idmap: Any, what: str, stacklevel: int = 3) -> str:
    """``ids`` of a door whose default moves to "raw": None reads indices, warning when ambiguous.

    No warning when ``idmap`` is the identity (ids and indices are the same numbers).
    """
    if ids is not None:
        return check_ids(ids)
    if not getattr(idmap, "is_identity", False):
        warnings.warn(
            f"{what} are read as internal indices because ids= was not given; pass ids='raw' "
            f"to give your own ids (the default from graphrec {RAW_DEFAULT_RELEASE}) or "
            "ids='index' to keep passing indices",
            FutureWarning,
            stacklevel=stacklevel,
        )
    return "index"


def to_index(values: ArrayLike, idmap: Any, role: str, ids: str, name: str | None = None) -> NDArray[np.int64]:
    """Internal indices of ``values`` given as ``ids`` ("raw" labels or "index").

    Raises
    ------
    UnknownIdError
        ``ids="raw"`` and an id the model does not know (named, with examples).
    IndexError, TypeError
        ``ids="index"`` and values that are not indices in range.
    """
    name = name or f"{role}s"
    if ids == "index":
        return as_index_array(values, len(idmap), name)
    arr = np.atleast_1d(np.asarray(values))
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size == 0:
        return np.empty(0, np.int64)
    labels = np.asarray(idmap.labels)
    if labels.dtype.kind in "iu" and arr.dtype.kind in "OUS":
        try:  # ids typed as text ("414") match integer ids
            arr = np.asarray([int(v) for v in arr.tolist()], np.int64)
        except (TypeError, ValueError):
            pass
    try:
        return idmap.to_index(arr)
    except KeyError:
        known = np.isin(arr, labels) if arr.dtype.kind == labels.dtype.kind else np.zeros(len(arr), bool)
        bad = arr[~known][:3].tolist() or arr[:3].tolist()
        raise UnknownIdError(
            f"unknown {role} id{'s' if len(bad) > 1 else ''} {', '.join(map(repr, bad))} "
            f"(the model has {len(idmap):,} {role}s, e.g. {', '.join(map(str, labels[:3].tolist()))}); "
            f"pass ids='index' for internal indices"
        ) from None


def to_output(idx: NDArray[np.int64], idmap: Any, ids: str) -> NDArray:
    """Ranked indices as the caller's ids: unchanged for "index"; labels for "raw".

    With "raw", padded slots (-1) hold None, and the array then has object dtype.
    """
    if ids == "index":
        return idx
    valid = idx >= 0
    if valid.all():
        return idmap.to_labels(idx.ravel()).reshape(idx.shape)
    out = np.full(idx.shape, None, dtype=object)
    out[valid] = idmap.to_labels(idx[valid])
    return out
