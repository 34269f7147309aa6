"""Graph paths that lead a user to a recommended item.

A user reaches an unseen item through walks of odd length in the bipartite graph;
the shortest informative ones have length 3: ``user -> item -> user -> item`` ("you
watched *A*; *v*, who also watched *A*, watched *B*"). Each walk gets a
*contribution*, the product of its edge weights in an adjacency matrix, so the
contributions of all walks between two nodes sum to the entry of the matrix power
(``(A^3)[u, i]`` for length 3). Two weightings:

- ``"normalized"``: ``D^-1/2 A D^-1/2``, LightGCN's propagation matrix. The walk
  contributions are exactly the terms the layer-3 embedding of the user collects
  from the item, so they explain graph-propagation models.
- ``"count"``: the binary adjacency, each walk counts 1; summed over the middle
  user this is the co-occurrence count of the two items (item-based CF's
  evidence), which suits models without propagation (MF, popularity).

``"auto"`` asks the model: :meth:`graphrec.Recommender.explain_weighting`
returns ``"count"`` by default, ``"normalized"`` for LightGCN with ``n_layers > 0``
(graph propagation) and for GraphFilter (a linear filter built on the normalised
interactions).

The *length-2* view (:func:`because`) collapses the middle user: the user's own item
``A`` -> recommended item ``B`` with the summed contribution of every walk through
``A`` and the number of co-users. That is what a reader wants ("because you watched
*A*"); the length-3 view names the users behind it. Between nodes of the same side
(item -> user -> item, e.g. an item-centred view) true length-2 walks exist, and
:func:`paths` returns those.

Everything is vectorised over the sparse rows involved (the neighbours of the two
end points); there is no Python loop over edges.

One piece (~540 lines, half of it docstrings): walk enumeration, the two views
built on it and the model-level door share the weighting rules and the walk
frame, and the viz package reads them from here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray

from graphrec._ids import door_ids, to_index
from graphrec.data.interactions import Interactions
from graphrec.graph import bipartite_adjacency, normalized_adjacency
from graphrec.utils import check_index

__all__ = [
    "WEIGHTINGS",
    "because",
    "explain_recommendations",
    "node_labels",
    "path_adjacency",
    "paths",
    "training_interactions",
    "walks",
]

WEIGHTINGS = ("normalized", "count", "auto")


def walks(
    adjacency: sp.csr_array, source: int, target: int, length: int
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Every walk of ``length`` (1, 2 or 3) edges from ``source`` to ``target``.

    Parameters
    ----------
    adjacency : csr_array, shape (n_nodes, n_nodes)
        A symmetric weighted adjacency (e.g. :func:`graphrec.graph.normalized_adjacency`).
    source, target : int
        Node ids.
    length : {1, 2, 3}

    Returns
    -------
    nodes : ndarray of int64, shape (n_walks, length + 1)
        Node ids along each walk, ``source`` first.
    weights : ndarray of float64, shape (n_walks,)
        Product of the edge weights; ``weights.sum() == (A ** length)[source, target]``.
        Sorted by descending weight, ties by node ids.

    Raises
    ------
    ValueError
        ``length`` not in {1, 2, 3}.

    Examples
    --------
    >>> a = sp.csr_array(np.array([[0, 0, 1, 1], [0, 0, 0, 1], [1, 0, 0, 0], [1, 1, 0, 0.]]))
    >>> nodes, w = walks(a, 1, 2, 3)
    >>> nodes.tolist(), w.tolist()
    ([[1, 3, 0, 2]], [1.0])
    """
    if length not in (1, 2, 3):
        raise ValueError(f"length must be 1, 2 or 3, got {length}")
    a = sp.csr_array(adjacency)
    source, target = int(source), int(target)

    def row(n: int) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        lo, hi = a.indptr[n], a.indptr[n + 1]
        return a.indices[lo:hi].astype(np.int64), a.data[lo:hi].astype(np.float64)

    ns, ws = row(source)
    if length == 1:
        hit = ns == target
        nodes = np.array([[source, target]] * int(hit.sum()), np.int64).reshape(-1, 2)
        weights = ws[hit]
    elif length == 2:
        nt, wt = row(target)
        mid, i_s, i_t = np.intersect1d(ns, nt, assume_unique=True, return_indices=True)
        nodes = np.column_stack([np.full(len(mid), source), mid, np.full(len(mid), target)])
        weights = ws[i_s] * wt[i_t]
    else:
        nt, wt = row(target)
        sub = a[ns][:, nt].tocoo()  # edges between the neighbours of the two ends
        m1, m2 = ns[sub.row], nt[sub.col]
        weights = ws[sub.row] * sub.data.astype(np.float64) * wt[sub.col]
        nodes = np.column_stack([np.full(len(m1), source), m1, m2, np.full(len(m1), target)])
    nodes = nodes.astype(np.int64)
    keep = weights != 0
    nodes, weights = nodes[keep], weights[keep]
    order = np.lexsort(tuple(nodes[:, c] for c in range(nodes.shape[1] - 1, -1, -1)) + (-weights,))
    return nodes[order], weights[order]


def path_adjacency(x: Interactions, weighting: str = "normalized") -> sp.csr_array:
    """The bipartite adjacency whose entries weight the walks (see module docs).

    Raises
    ------
    ValueError
        Unknown ``weighting`` (``"auto"`` must be resolved first).
    """
    if weighting == "normalized":
        return normalized_adjacency(x)
    if weighting == "count":
        return bipartite_adjacency(x, binary=True)
    raise ValueError(f"weighting must be 'normalized' or 'count', got {weighting!r}")


def _resolve_weighting(weighting: str, model: Any = None) -> str:
    if weighting not in WEIGHTINGS:
        raise ValueError(f"weighting must be one of {WEIGHTINGS}, got {weighting!r}")
    if weighting == "auto" and model is not None:
        declared = model.explain_weighting()
        if declared not in ("normalized", "count"):
            raise ValueError(
                f"{type(model).__name__}.explain_weighting() must return 'normalized' or 'count', "
                f"got {declared!r}"
            )
        return declared
    return weighting


def training_interactions(model: Any, train: Interactions | None = None) -> Interactions:
    """The interactions a fitted model was trained on.

    ``train`` is returned when given (it must have the model's shape); otherwise they
    are rebuilt from the model's ``seen_`` matrix and ``users_``/``items_`` IdMaps,
    which every :class:`graphrec.Recommender` keeps (and saves).

    Raises
    ------
    TypeError
        ``train`` is not an Interactions.
    ValueError
        ``train`` does not match the model's numbers of users and items.
    """
    if train is not None:
        if not isinstance(train, Interactions):
            raise TypeError(f"train must be Interactions, got {type(train).__name__}")
        n = (getattr(model, "n_users_", train.n_users), getattr(model, "n_items_", train.n_items))
        if (train.n_users, train.n_items) != n:
            raise ValueError(
                f"train has {train.n_users} users x {train.n_items} items, the model {n[0]} x {n[1]}"
            )
        return train
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(model)
    seen = sp.csr_array(model.seen_).tocoo()
    return Interactions(
        seen.row.astype(np.int64),
        seen.col.astype(np.int64),
        users=model.users_,
        items=model.items_,
        weights=seen.data.astype(np.float32),
    )


def user_index(model: Any, label: Any) -> int:
    """Internal index of a user given the caller's own id (a label of ``model.users_``).

    A string such as ``"414"`` (from a command line) also matches the integer label 414.

    Raises
    ------
    KeyError
        Unknown user id.
    """
    return _lookup(model.users_, label, "user")


def item_index(model: Any, label: Any) -> int:
    """Internal index of an item given its own id (see :func:`user_index`)."""
    return _lookup(model.items_, label, "item")


def _lookup(ids: Any, label: Any, role: str) -> int:
    candidates = [label]
    if isinstance(label, str) and np.asarray(ids.labels).dtype.kind in "iu":
        try:
            candidates.append(int(label))
        except ValueError:
            pass
    elif not isinstance(label, str) and np.asarray(ids.labels).dtype.kind in "OUS":
        candidates.append(str(label))
    for cand in candidates:
        try:
            return int(ids.to_index([cand])[0])
        except KeyError:
            continue
    raise KeyError(f"unknown {role} id {label!r}")


def _short(text: str, width: int | None) -> str:
    return text if width is None or len(text) <= width else text[: width - 1] + "\u2026"


def node_labels(
    x: Interactions,
    nodes: NDArray,
    item_info: pd.DataFrame | None = None,
    *,
    width: int | None = None,
) -> list[str]:
    """Readable labels of graph nodes: ``"user <id>"``, item titles when known, else ``"item <id>"``.

    ``item_info`` is indexed by internal item index and may have a ``title`` column;
    ``width`` truncates long titles with an ellipsis.
    """
    nodes = np.asarray(nodes, np.int64)
    out = np.empty(len(nodes), object)
    is_user = nodes < x.n_users
    out[is_user] = ["user " + str(v) for v in x.users.to_labels(nodes[is_user])]
    items = nodes[~is_user] - x.n_users
    labels = ["item " + str(v) for v in x.items.to_labels(items)]
    if item_info is not None and "title" in item_info.columns and len(items):
        titles = item_info["title"].reindex(items).to_numpy()
        labels = [str(t) if isinstance(t, str) and t else lab for t, lab in zip(titles, labels)]
    out[~is_user] = labels
    return [_short(s, width) for s in out.tolist()]


def paths(
    x: Interactions,
    item: int,
    *,
    user: int | None = None,
    source_item: int | None = None,
    length: int | None = None,
    weighting: str = "normalized",
    top: int | None = 10,
    item_info: pd.DataFrame | None = None,
    adjacency: sp.csr_array | None = None,
) -> pd.DataFrame:
    """The strongest walks from a user (or an item) to ``item``.

    Parameters
    ----------
    x : Interactions
        The training interactions (the graph the model saw).
    item : int
        Internal index of the target item.
    user, source_item : int
        Internal index of the source: exactly one.
    length : int, optional
        Walk length; default 3 from a user (user -> item -> user -> item) and 2 from an
        item (item -> user -> item). 1 gives the direct edge if any.
    weighting : {"normalized", "count"}
    top : int or None, default 10
        Keep the ``top`` strongest walks (None: all).
    item_info : DataFrame, optional
        Titles for the ``label`` column.
    adjacency : csr_array, optional
        Precomputed :func:`path_adjacency` (saves time over many calls).

    Returns
    -------
    DataFrame
        One row per walk, strongest first: ``rank``, ``length``, ``nodes`` (tuple of
        graph node ids: users first, item i is ``n_users + i``), ``source`` (graph node
        id of the source), ``via_item`` (internal index or -1), ``via_user``
        (internal index or -1), ``item``, ``contribution``, ``share`` (of the total over
        *all* walks, not just the ``top`` kept), ``total``, ``label``
        (e.g. ``"user 1 -> Heat (1995) -> user 68 -> Alien (1979)"``).

    Raises
    ------
    ValueError
        Neither or both sources, a length of the wrong parity, bad ``weighting``.
    IndexError
        An index out of range.

    Examples
    --------
    >>> x = Interactions.from_arrays([0, 0, 1, 1], [0, 1, 1, 2], n_users=2, n_items=3)
    >>> paths(x, 2, user=0, weighting="count")[["via_item", "via_user", "contribution"]].values.tolist()
    [[1.0, 1.0, 1.0]]
    """
    if (user is None) == (source_item is None):
        raise ValueError("give exactly one of user or source_item")
    weighting = _resolve_weighting(weighting)
    if weighting == "auto":
        raise ValueError("weighting='auto' needs a model; use explain_recommendations")
    check_index(item, x.n_items, "item")
    if user is not None:
        check_index(user, x.n_users, "user")
        source = int(user)
        length = 3 if length is None else length
        if length not in (1, 3):
            raise ValueError(f"length from a user to an item must be 1 or 3, got {length}")
    else:
        source = x.n_users + check_index(source_item, x.n_items, "source_item")
        length = 2 if length is None else length
        if length != 2:
            raise ValueError(f"length between two items must be 2, got {length}")
    a = path_adjacency(x, weighting) if adjacency is None else adjacency
    nodes, w = walks(a, source, x.n_users + int(item), length)
    total = float(w.sum())
    if top is not None:
        nodes, w = nodes[:top], w[:top]
    frame = _walk_frame(x, nodes, w, total, item_info)
    return frame


def _walk_frame(x, nodes, w, total, item_info) -> pd.DataFrame:
    n_walks, width = nodes.shape if nodes.ndim == 2 else (0, 2)
    inner = nodes[:, 1:-1] if n_walks else np.empty((0, 0), np.int64)
    via_item = np.full(n_walks, -1, np.int64)
    via_user = np.full(n_walks, -1, np.int64)
    for c in range(inner.shape[1]):  # at most two middle columns
        col = inner[:, c]
        is_item = col >= x.n_users
        via_item = np.where(is_item & (via_item < 0), col - x.n_users, via_item)
        via_user = np.where(~is_item & (via_user < 0), col, via_user)
    flat = nodes.ravel()
    names = np.array(node_labels(x, flat, item_info), dtype=object).reshape(nodes.shape)
    return pd.DataFrame(
        {
            "rank": np.arange(1, n_walks + 1),
            "length": np.full(n_walks, width - 1),
            "nodes": [tuple(r) for r in nodes.tolist()],
            "source": nodes[:, 0] if n_walks else np.empty(0, np.int64),
            "via_item": via_item,
            "via_user": via_user,
            "item": nodes[:, -1] - x.n_users if n_walks else np.empty(0, np.int64),
            "contribution": w,
            "share": w / total if total > 0 else np.zeros(n_walks),
            "total": np.full(n_walks, total),
            "label": [" \u2192 ".join(r) for r in names.tolist()],
        }
    )


def because(
    x: Interactions,
    user: int,
    item: int,
    *,
    weighting: str = "normalized",
    top: int | None = 5,
    item_info: pd.DataFrame | None = None,
    adjacency: sp.csr_array | None = None,
) -> pd.DataFrame:
    """Length-2 item-level view: which of the user's items lead to ``item``.

    Collapses the middle user of the length-3 walks: for each item ``A`` the user
    interacted with, ``contribution`` is the sum over users ``v`` of the walk
    ``user -> A -> v -> item``, and ``n_paths`` the number of such ``v`` (with
    ``weighting="count"``, the co-occurrence count of ``A`` and ``item``).

    Returns
    -------
    DataFrame
        ``rank``, ``user``, ``via_item``, ``item``, ``contribution``, ``n_paths``,
        ``share``, ``total``, ``label`` (``"because of <title>"``), strongest first.
        Contributions over all rows sum to ``(A^3)[user, item]``.
    """
    check_index(user, x.n_users, "user")
    check_index(item, x.n_items, "item")
    weighting = _resolve_weighting(weighting)
    a = path_adjacency(x, weighting) if adjacency is None else adjacency
    nodes, w = walks(a, int(user), x.n_users + int(item), 3)
    total = float(w.sum())
    mid, inverse = np.unique(nodes[:, 1], return_inverse=True)
    contrib = np.bincount(inverse, weights=w, minlength=len(mid))
    counts = np.bincount(inverse, minlength=len(mid))
    order = np.lexsort((mid, -contrib))
    if top is not None:
        order = order[:top]
    mid, contrib, counts = mid[order], contrib[order], counts[order]
    titles = node_labels(x, mid, item_info)
    return pd.DataFrame(
        {
            "rank": np.arange(1, len(mid) + 1),
            "user": np.full(len(mid), int(user)),
            "via_item": mid - x.n_users,
            "item": np.full(len(mid), int(item)),
            "contribution": contrib,
            "n_paths": counts,
            "share": contrib / total if total > 0 else np.zeros(len(mid)),
            "total": np.full(len(mid), total),
            "label": ["because of " + t for t in titles],
        }
    )


def explain_recommendations(
    model: Any,
    user: int,
    *,
    items: NDArray | None = None,
    k: int = 10,
    top: int = 3,
    level: str = "path",
    train: Interactions | None = None,
    item_info: pd.DataFrame | None = None,
    weighting: str = "auto",
    ids: str | None = None,
) -> pd.DataFrame:
    """Explain a fitted model's top-``k`` recommendations (or given ``items``) for a user.

    Parameters
    ----------
    model : Recommender
        Fitted; supplies the recommendations and (without ``train``) the graph.
    user : int or label
        The user: your own user id with ``ids="raw"``, the internal index with
        ``ids="index"``.
    items : array, optional
        Items to explain instead of the model's top-``k`` (same ``ids`` convention).
    k : int, default 10
    top : int, default 3
        Walks (``level="path"``) or items (``level="item"``) kept per recommendation.
    level : {"path", "item"}
        Length-3 walks (:func:`paths`) or the length-2 item view (:func:`because`).
    train : Interactions, optional
        The training data; default: rebuilt from ``model.seen_``.
    item_info : DataFrame, optional
    weighting : {"auto", "normalized", "count"}
    ids : {"raw", "index"}, optional
        How ``user`` and ``items`` are given. Not given: internal indices, with a
        ``FutureWarning`` where the model's ids differ from its indices (the default
        becomes ``"raw"`` in graphrec 0.3.0).

    Returns
    -------
    DataFrame
        The :func:`paths` / :func:`because` columns (node columns hold internal
        indices) plus ``rec_rank``, ``score``, ``item_label`` and ``item_id`` (the
        recommended item's own id) per recommended item. An item with no walk of
        length 3 (not reachable) gets one row with ``rank`` 0, zero contribution and
        label ``"no path"``.

    Raises
    ------
    graphrec.exceptions.UnknownIdError
        ``ids="raw"`` and a user or item id the model does not know.
    IndexError
        ``ids="index"`` and an index out of range.
    """
    if level not in ("path", "item"):
        raise ValueError(f"level must be 'path' or 'item', got {level!r}")
    x = training_interactions(model, train)
    # ambiguous (warned) when the user's, or the given items', ids differ from the indices
    either = x.users if not x.users.is_identity or items is None else x.items
    ids = door_ids(ids, either, "explain_recommendations' user and items")
    if ids == "raw":
        user = int(to_index([user], x.users, "user", "raw")[0])
        if items is not None:
            items = to_index(items, x.items, "item", "raw")
    check_index(user, x.n_users, "user")
    weighting = _resolve_weighting(weighting, model)
    if items is None:
        idx, scores = model.recommend([int(user)], k=k)
        keep = idx[0] >= 0
        items, scores = idx[0][keep], scores[0][keep]
    else:
        items = np.asarray(items, np.int64).ravel()
        scores = model.score([int(user)])[0][items]
    a = path_adjacency(x, weighting)
    titles = node_labels(x, items + x.n_users, item_info)
    parts = []
    for rank, (item, score, title) in enumerate(zip(items.tolist(), scores.tolist(), titles), 1):
        if level == "path":
            f = paths(
                x,
                item,
                user=int(user),
                weighting=weighting,
                top=top,
                item_info=item_info,
                adjacency=a,
            )
        else:
            f = because(
                x, int(user), item, weighting=weighting, top=top, item_info=item_info, adjacency=a
            )
        if f.empty:
            blank = {
                "rank": 0,
                "length": 0,
                "nodes": (),
                "source": int(user),
                "user": int(user),
                "via_item": -1,
                "via_user": -1,
                "item": item,
                "contribution": 0.0,
                "n_paths": 0,
                "share": 0.0,
                "total": 0.0,
                "label": "no path",
            }
            f = pd.DataFrame([{c: blank[c] for c in f.columns}])
        f.insert(0, "rec_rank", rank)
        f.insert(1, "score", score)
        f.insert(2, "item_label", title)
        f.insert(3, "item_id", x.items.to_labels([item])[0])
        parts.append(f)
    if not parts:
        return pd.DataFrame(
            columns=["rec_rank", "score", "item_label", "item_id", "rank", "item", "contribution", "label"]
        )
    return pd.concat(parts, ignore_index=True)


