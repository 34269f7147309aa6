"""Negative sampling for implicit-feedback training, and the epoch batches built on it.

Random walks live in :mod:`graphrec.walks`.

All samplers draw from a :class:`numpy.random.Generator` or a
:class:`torch.Generator` passed in by the caller; nothing touches global seeds.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from numpy.typing import NDArray

from graphrec.data.interactions import Interactions
from graphrec.utils import check_positive_int

__all__ = ["Batch", "edge_batches", "is_seen", "make_batches", "sample_negatives", "sample_pool", "seen_keys"]


def seen_keys(seen: sp.csr_array | sp.csr_matrix) -> NDArray[np.int64]:
    """Sorted ``user * n_items + item`` keys of the non-zeros of a user-item CSR.

    Precompute once per fit and pass to :func:`sample_negatives` as ``keys``.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> seen_keys(sp.csr_array([[1, 0, 1], [0, 1, 0]])).tolist()
    [0, 2, 4]
    """
    csr = sp.csr_array(seen)
    if not csr.has_sorted_indices:
        csr = csr.sorted_indices()
    rows = np.repeat(np.arange(csr.shape[0], dtype=np.int64), np.diff(csr.indptr))
    keys = rows * csr.shape[1] + csr.indices.astype(np.int64)
    return keys  # row-major order with sorted columns is already sorted


def is_seen(
    keys: NDArray[np.int64], n_items: int, users: NDArray, items: NDArray
) -> NDArray[np.bool_]:
    """Whether each (user, item) pair is among the sorted ``keys`` (broadcasting)."""
    q = np.asarray(users, np.int64) * n_items + np.asarray(items, np.int64)
    if len(keys) == 0:
        return np.zeros(q.shape, bool)
    pos = np.searchsorted(keys, q)
    pos[pos >= len(keys)] = len(keys) - 1
    return keys[pos] == q


def sample_negatives(
    seen: sp.csr_array | sp.csr_matrix,
    users: NDArray,
    n_negatives: int = 1,
    *,
    rng: np.random.Generator,
    keys: NDArray[np.int64] | None = None,
    max_rounds: int = 50,
) -> NDArray[np.int64]:
    """Uniform items that each user has not interacted with.

    Draws all candidates at once, then redraws only the rejected ones (pairs
    found in ``seen``) until none are left: a handful of vectorised rounds, no
    Python loop per sample.

    Parameters
    ----------
    seen : csr_array, shape (n_users, n_items)
        Interactions to avoid (usually the training data).
    users : array of int, shape (B,)
    n_negatives : int, default 1
    rng : numpy.random.Generator
    keys : ndarray, optional
        ``seen_keys(seen)``, precomputed for speed.
    max_rounds : int, default 50
        After this many rounds the remaining candidates (users who have seen
        almost every item) are drawn exactly among the user's unseen items.

    Returns
    -------
    ndarray of int64, shape (B, n_negatives)

    Raises
    ------
    ValueError
        ``n_negatives < 1``.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> seen = sp.csr_array(np.array([[1, 1, 0], [0, 1, 1]]))
    >>> sample_negatives(seen, np.array([0, 1]), 2, rng=np.random.default_rng(0)).tolist()
    [[2, 2], [0, 0]]
    """
    n_negatives = check_positive_int(n_negatives, "n_negatives")
    n_items = seen.shape[1]
    keys = seen_keys(seen) if keys is None else keys
    users = np.asarray(users, np.int64)
    out = rng.integers(0, n_items, size=(len(users), n_negatives), dtype=np.int64)
    uu = np.broadcast_to(users[:, None], out.shape)
    bad = np.flatnonzero(is_seen(keys, n_items, uu, out))
    flat = out.reshape(-1)
    flat_users = uu.reshape(-1)
    for _ in range(max_rounds):
        if len(bad) == 0:
            break
        flat[bad] = rng.integers(0, n_items, size=len(bad), dtype=np.int64)
        bad = bad[is_seen(keys, n_items, flat_users[bad], flat[bad])]
    if len(bad):  # users who have seen nearly everything: draw exactly among their unseen items
        flat[bad] = _exact_unseen(seen, flat_users[bad], rng)
    return out


def _exact_unseen(
    seen: sp.csr_array, users: NDArray[np.int64], rng: np.random.Generator
) -> NDArray[np.int64]:
    """The r-th unseen item of each user, r uniform: vectorised with one searchsorted.

    For a user's sorted seen items ``c_0 < c_1 < ...``, ``c_j - j`` counts the unseen
    items before ``c_j``; the r-th unseen item is ``r`` plus the number of seen items
    with ``c_j - j <= r``. Users who have seen every item keep a random (seen) item.
    """
    csr = sp.csr_array(seen)
    if not csr.has_sorted_indices:
        csr = csr.sorted_indices()
    n_items = csr.shape[1]
    counts = np.diff(csr.indptr)
    rows = np.repeat(np.arange(csr.shape[0], dtype=np.int64), counts)
    rank_in_row = np.arange(csr.nnz, dtype=np.int64) - np.repeat(
        csr.indptr[:-1].astype(np.int64), counts
    )
    adjusted = rows * n_items + (csr.indices.astype(np.int64) - rank_in_row)  # globally sorted
    n_unseen = n_items - counts[users]
    r = np.floor(rng.random(len(users)) * np.maximum(n_unseen, 1)).astype(np.int64)
    before = np.searchsorted(adjusted, users * n_items + r, side="right") - csr.indptr[users]
    out = r + before
    full = n_unseen <= 0
    out[full] = rng.integers(0, n_items, size=int(full.sum()))
    return out


def sample_pool(n_items: int, size: int, *, rng: np.random.Generator) -> NDArray[np.int64]:
    """A pool of ``size`` uniform items shared by a whole batch (with replacement).

    Used by many-negative losses (sampled softmax, BPR against a pool): one
    matrix product scores every user of the batch against the pool. Pool items
    are not filtered per user; at the density of real data (< 1%) a seen item in
    the pool is rare and harmless.
    """
    size = check_positive_int(size, "size")
    return rng.integers(0, n_items, size=size, dtype=np.int64)


def edge_batches(
    n_edges: int,
    batch_size: int,
    *,
    rng: np.random.Generator,
    rank: int = 0,
    world_size: int = 1,
) -> list[torch.Tensor]:
    """One epoch of shuffled mini-batches of edge positions.

    With ``world_size > 1`` the shuffled epoch is cut into ``world_size``
    contiguous shards and only shard ``rank`` is batched, so data-parallel
    workers sharing a seed see disjoint edges and the same number of steps.

    Returns
    -------
    list of LongTensor
        Edge positions per batch (the last batch may be smaller).
    """
    batch_size = check_positive_int(batch_size, "batch_size")
    world_size = check_positive_int(world_size, "world_size")
    if not 0 <= rank < world_size:
        raise ValueError(f"rank must be in [0, {world_size}), got {rank}")
    perm = torch.from_numpy(rng.permutation(n_edges))
    per = n_edges // world_size
    shard = perm[rank * per : (rank + 1) * per] if world_size > 1 else perm
    return list(torch.split(shard, batch_size))


@dataclass(frozen=True)
class Batch:
    """One mini-batch of training edges.

    Attributes
    ----------
    users, items : LongTensor, shape (B,)
        Observed pairs (internal indices).
    negatives : LongTensor, shape (B, K) or (P,)
        Per-pair negatives, or a pool of P items shared by the whole batch.
    """

    users: torch.Tensor
    items: torch.Tensor
    negatives: torch.Tensor

    @property
    def shared(self) -> bool:
        """True when ``negatives`` is a pool shared by the batch."""
        return self.negatives.ndim == 1


def make_batches(
    train: Interactions,
    batch_size: int,
    *,
    rng: np.random.Generator,
    n_negatives: int = 1,
    neg_pool: int = 0,
    keys: np.ndarray | None = None,
    rank: int = 0,
    world_size: int = 1,
    device: torch.device | str = "cpu",
) -> Iterator[Batch]:
    """Yield one epoch of shuffled batches with sampled negatives.

    Parameters
    ----------
    train : Interactions
    batch_size : int
    rng : numpy.random.Generator
    n_negatives : int, default 1
        Negatives per positive (rejecting the user's seen items), when ``neg_pool`` is 0.
    neg_pool : int, default 0
        If > 0, one pool of this many uniform items is shared by each batch instead.
    keys : ndarray, optional
        ``graphrec.sampling.seen_keys(train.to_csr())``, precomputed.
    rank, world_size : int
        Shard of the epoch to iterate (data-parallel training).
    device : torch device
    """
    seen = train.to_csr()
    keys = seen_keys(seen) if keys is None else keys
    users = torch.from_numpy(np.array(train.user_idx, np.int64))
    items = torch.from_numpy(np.array(train.item_idx, np.int64))
    neg_rng = rng
    if world_size > 1:
        # (graphrec.distributed) ``rng`` must stay in lockstep on all workers: it draws each
        # epoch's shared permutation. Rejection redraws consume a rank-dependent amount of
        # randomness, so negatives come from a per-rank stream seeded by one shared draw.
        neg_rng = np.random.default_rng([int(rng.integers(2**63)), rank])
    for pos in edge_batches(train.nnz, batch_size, rng=rng, rank=rank, world_size=world_size):
        u = users[pos]
        if neg_pool > 0:
            neg = sample_pool(train.n_items, neg_pool, rng=neg_rng)
        else:
            neg = sample_negatives(seen, u.numpy(), n_negatives, rng=neg_rng, keys=keys)
        yield Batch(u.to(device), items[pos].to(device), torch.from_numpy(neg).to(device))
