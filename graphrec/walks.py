"""Vectorised random walks over a (bipartite) CSR graph, and skip-gram pairs.

All walks advance in lock-step: one numpy step moves every walk at once, so the
only Python loop is over the ``walk_length`` steps. Optional node2vec biases
(``p``, ``q``) use vectorised rejection sampling (as in node2vec's alias-free
implementations): propose a uniform neighbour for every walk, accept it with
probability ``weight / max_weight``, redraw only the rejected ones.

Use with :func:`graphrec.graph.bipartite_adjacency` (users first, then items).
"""

from __future__ import annotations

from typing import cast

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from graphrec.utils import check_positive_float, check_positive_int

__all__ = ["random_walks", "skipgram_pairs", "walk_starts"]

_MAX_REJECTION_ROUNDS = 100


def _check_csr(adjacency: sp.csr_array | sp.csr_matrix) -> sp.csr_array:
    if not sp.issparse(adjacency):
        raise TypeError(f"adjacency must be a scipy sparse matrix, got {type(adjacency).__name__}")
    a = sp.csr_array(adjacency)
    if a.shape[0] != a.shape[1]:
        raise ValueError(f"adjacency must be square, got shape {a.shape}")
    if not a.has_sorted_indices:
        a = a.sorted_indices()
    return a


def walk_starts(
    adjacency: sp.csr_array | sp.csr_matrix, walks_per_node: int = 1, *, rng: np.random.Generator
) -> NDArray[np.int64]:
    """Every non-isolated node ``walks_per_node`` times, in random order.

    Parameters
    ----------
    adjacency : csr_array, shape (n_nodes, n_nodes)
    walks_per_node : int, default 1
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of int64, shape (walks_per_node * n_non_isolated,)

    Raises
    ------
    ValueError
        ``walks_per_node < 1``.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> a = sp.csr_array(np.array([[0, 1, 0], [1, 0, 0], [0, 0, 0]]))
    >>> sorted(walk_starts(a, 2, rng=np.random.default_rng(0)).tolist())
    [0, 0, 1, 1]
    """
    walks_per_node = check_positive_int(walks_per_node, "walks_per_node")
    a = _check_csr(adjacency)
    nodes = np.flatnonzero(np.diff(a.indptr) > 0).astype(np.int64)
    return rng.permutation(np.tile(nodes, walks_per_node))


def random_walks(
    adjacency: sp.csr_array | sp.csr_matrix,
    starts: ArrayLike,
    walk_length: int,
    *,
    p: float = 1.0,
    q: float = 1.0,
    rng: np.random.Generator,
) -> NDArray[np.int64]:
    """Random walks of ``walk_length`` nodes from each start node, all at once.

    Edges are followed uniformly (unweighted); with ``p`` or ``q`` different from 1
    the second-order node2vec bias applies: returning to the previous node has
    weight ``1/p``, moving to a neighbour of the previous node weight 1, moving
    further away weight ``1/q``. (On a bipartite graph no neighbour of the
    current node is adjacent to the previous one, so only ``1/p`` vs ``1/q`` matters.)

    Parameters
    ----------
    adjacency : csr_array, shape (n_nodes, n_nodes)
        Symmetric adjacency, e.g. :func:`graphrec.graph.bipartite_adjacency`.
    starts : array of int, shape (n_walks,)
        Start node of each walk.
    walk_length : int
        Nodes per walk, start included (>= 2).
    p, q : float, default 1.0
        node2vec return and in-out parameters (> 0).
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of int64, shape (n_walks, walk_length)
        Node ids. A walk that reaches a node without edges (only an isolated
        start can) is padded with -1 from there on.

    Raises
    ------
    ValueError
        ``walk_length < 2``, ``p`` or ``q`` not positive, non-square adjacency.
    IndexError
        A start node out of range.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> a = sp.csr_array(np.array([[0, 1], [1, 0]]))  # a single edge
    >>> random_walks(a, [0, 1], 4, rng=np.random.default_rng(0)).tolist()
    [[0, 1, 0, 1], [1, 0, 1, 0]]
    """
    walk_length = check_positive_int(walk_length, "walk_length", minimum=2)
    p = check_positive_float(p, "p")
    q = check_positive_float(q, "q")
    a = _check_csr(adjacency)
    n = a.shape[0]
    starts = np.asarray(starts, dtype=np.int64).reshape(-1)
    if starts.size and (starts.min() < 0 or starts.max() >= n):
        raise IndexError(f"starts out of range [0, {n})")
    indptr = a.indptr.astype(np.int64)
    indices = a.indices.astype(np.int64)
    deg = np.diff(indptr)
    walks = np.full((len(starts), walk_length), -1, dtype=np.int64)
    walks[:, 0] = starts
    biased = p != 1.0 or q != 1.0
    keys: NDArray[np.int64] | None = None
    if biased:
        rows = np.repeat(np.arange(n, dtype=np.int64), deg)
        keys = rows * n + indices  # sorted: CSR rows in order, sorted columns
        max_w = max(1.0, 1.0 / p, 1.0 / q)
    alive = np.flatnonzero(deg[starts] > 0)
    for t in range(1, walk_length):
        cur = walks[alive, t - 1]
        d = deg[cur]
        nxt = indices[indptr[cur] + (rng.random(len(cur)) * d).astype(np.int64)]
        if biased and t > 1:
            prev = walks[alive, t - 2]
            todo = np.arange(len(cur))
            for _ in range(_MAX_REJECTION_ROUNDS):
                w = _node2vec_weight(prev[todo], nxt[todo], cast(NDArray[np.int64], keys), n, p, q)
                todo = todo[rng.random(len(todo)) * max_w >= w]
                if len(todo) == 0:
                    break
                dd = d[todo]
                nxt[todo] = indices[indptr[cur[todo]] + (rng.random(len(todo)) * dd).astype(np.int64)]
        walks[alive, t] = nxt
    return walks


def _node2vec_weight(
    prev: NDArray[np.int64], cand: NDArray[np.int64], keys: NDArray[np.int64], n: int, p: float, q: float
) -> NDArray[np.float64]:
    w = np.full(len(prev), 1.0 / q)
    query = prev * n + cand
    pos = np.minimum(np.searchsorted(keys, query), len(keys) - 1)
    w[keys[pos] == query] = 1.0
    w[cand == prev] = 1.0 / p
    return w


def skipgram_pairs(walks: NDArray[np.int64], window: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(centre, context) pairs of every node with each node up to ``window`` steps away.

    Both directions are produced (``2 * window`` contexts per inner node); pairs
    involving padding (-1) are dropped.

    Parameters
    ----------
    walks : ndarray of int, shape (n_walks, walk_length)
    window : int
        Largest distance between centre and context (>= 1).

    Returns
    -------
    centers, contexts : ndarrays of int64, shape (n_pairs,)

    Raises
    ------
    ValueError
        ``window < 1``.

    Examples
    --------
    >>> c, x = skipgram_pairs(np.array([[5, 6, 7]]), window=1)
    >>> sorted(zip(c.tolist(), x.tolist()))
    [(5, 6), (6, 5), (6, 7), (7, 6)]
    """
    window = check_positive_int(window, "window")
    walks = np.asarray(walks, dtype=np.int64)
    if walks.ndim != 2:
        raise ValueError(f"walks must be 2-D (n_walks, walk_length), got shape {walks.shape}")
    cs, xs = [], []
    for d in range(1, min(window, walks.shape[1] - 1) + 1):
        left, right = walks[:, :-d].reshape(-1), walks[:, d:].reshape(-1)
        ok = (left >= 0) & (right >= 0)
        left, right = left[ok], right[ok]
        cs += [left, right]
        xs += [right, left]
    if not cs:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(cs), np.concatenate(xs)
