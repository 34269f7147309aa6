"""A synthetic dataset with planted user/item communities, for tests and examples."""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from graphrec.data.datasets import Dataset
from graphrec.data.ids import IdMap
from graphrec.data.interactions import Interactions

__all__ = ["sample_distinct", "synthetic"]



def synthetic(
    n_users: int = 200,
    n_items: int = 100,
    n_communities: int = 4,
    *,
    interactions_per_user: int | None = None,
    density: float | None = None,
    noise: float = 0.05,
    test_size: float = 0.2,
    random_state: int | np.random.Generator | None = 0,
) -> Dataset:
    """Generate users and items in planted communities, split into train and test.

    Users and items are spread evenly (in random order) over ``n_communities``
    communities. Each user interacts with ``interactions_per_user`` distinct items:
    each one, with probability ``1 - noise``, from the user's own community, else from
    another community. The test set holds ``round(test_size * interactions_per_user)``
    (at least 1) of each user's *own-community* items, and at least one own-community
    item stays in train, so every user has held-out items in its own community that
    a good model ranks first.

    Parameters
    ----------
    n_users, n_items, n_communities : int
        ``n_communities <= n_items``, and each community needs at least 2 items.
    interactions_per_user : int, optional
        Items per user (default 10, or set by ``density``); at most ``n_items``.
    density : float in (0, 1], optional
        Alternative to ``interactions_per_user``: ``round(density * n_items)`` items.
    noise : float in [0, 1)
        Probability that an interaction falls outside the user's community.
    test_size : float in (0, 1)
        Fraction of each user's items held out (own-community items only).
    random_state : int, numpy Generator or None

    Returns
    -------
    Dataset
        ``name="synthetic"``; identity IdMaps; no weights or timestamps.
        ``item_info`` has ``category`` (the item's community) and ``title``;
        ``user_info`` has ``community``.

    Raises
    ------
    ValueError
        Invalid sizes, ``noise``, ``density`` or ``test_size``, or both
        ``interactions_per_user`` and ``density`` given.

    Examples
    --------
    >>> ds = synthetic(n_users=20, n_items=12, n_communities=3, interactions_per_user=4)
    >>> ds.train.nnz + ds.test.nnz
    80
    >>> comm = ds.user_info["community"].to_numpy()
    >>> cat = ds.item_info["category"].to_numpy()
    >>> bool((comm[ds.test.user_idx] == cat[ds.test.item_idx]).all())
    True
    """
    for pname, value in (("n_users", n_users), ("n_items", n_items), ("n_communities", n_communities)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{pname} must be a positive int, got {value!r}")
    if n_items < 2 * n_communities:
        raise ValueError(f"n_items={n_items} must be >= 2 * n_communities={2 * n_communities}")
    if not 0.0 <= noise < 1.0:
        raise ValueError(f"noise must be in [0, 1), got {noise!r}")
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must be in (0, 1), got {test_size!r}")
    if interactions_per_user is not None and density is not None:
        raise ValueError("give interactions_per_user or density, not both")
    if density is not None:
        if not 0.0 < density <= 1.0:
            raise ValueError(f"density must be in (0, 1], got {density!r}")
        interactions_per_user = round(density * n_items)
    m = min(10, n_items) if interactions_per_user is None else interactions_per_user
    if not isinstance(m, (int, np.integer)) or not 2 <= m <= n_items:
        raise ValueError(f"interactions_per_user must be an int in [2, n_items={n_items}], got {m!r}")

    rng = np.random.default_rng(random_state)
    user_comm = rng.permutation(np.arange(n_users) % n_communities)
    item_comm = rng.permutation(np.arange(n_items) % n_communities)
    comm_size = np.bincount(item_comm, minlength=n_communities)
    own = comm_size[user_comm]  # own-community items per user
    n_test = min(max(1, int(np.floor(test_size * m + 0.5))), m - 1)
    k_in = rng.binomial(m, 1.0 - noise, size=n_users)
    # Room for the test items plus one train item in the community; enough outside items.
    k_in = np.clip(k_in, np.minimum(n_test + 1, own), np.minimum(own, m))
    k_in = np.maximum(k_in, m - (n_items - own))
    k_out = m - k_in
    n_test_u = np.minimum(n_test, k_in - 1)  # >= 1: every community has >= 2 items

    # Items grouped by community: community c holds by_comm[first[c]:first[c] + comm_size[c]].
    by_comm = np.argsort(item_comm, kind="stable")
    first = np.concatenate([[0], np.cumsum(comm_size)[:-1]])[user_comm]
    u_in, pos_in, rank_in = sample_distinct(rng, own, k_in)
    u_out, pos_out, _ = sample_distinct(rng, n_items - own, k_out)
    pos_out = np.where(pos_out < first[u_out], pos_out, pos_out + own[u_out])  # skip own block
    u = np.concatenate([u_in, u_out])
    i = by_comm[np.concatenate([pos_in + first[u_in], pos_out])]
    test = np.concatenate([rank_in < n_test_u[u_in], np.zeros(len(u_out), dtype=bool)])
    users_map, items_map = IdMap.identity(n_users), IdMap.identity(n_items)
    train_x = Interactions(u[~test], i[~test], users=users_map, items=items_map)
    test_x = Interactions(u[test], i[test], users=users_map, items=items_map)
    item_info = pd.DataFrame(
        {"category": item_comm, "title": [f"item {j} (community {c})" for j, c in enumerate(item_comm)]}
    ).rename_axis("item")
    user_info = pd.DataFrame({"community": user_comm}).rename_axis("user")
    return Dataset(
        "synthetic", train_x, test_x, item_info=item_info, user_info=user_info, source="synthetic()"
    )


def sample_distinct(
    rng: np.random.Generator, pool: ArrayLike, k: ArrayLike
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """For each row ``r``, ``k[r]`` distinct values drawn uniformly from ``[0, pool[r])``.

    Vectorised, in O(sum(k)) time and memory: rows needing more than half their pool
    draw the values to leave out instead; draws are repeated (with replacement, then
    deduplicated and randomly trimmed) until every row has enough.

    Returns
    -------
    rows, values, rank : ndarray of int64, shape (sum(k),)
        Grouped by row (ascending), in random order within a row; ``rank`` is the
        position within the row (0, 1, ...), so ``rank < j`` is a random j-subset.

    Raises
    ------
    ValueError
        Some ``k[r]`` is negative or larger than ``pool[r]``.
    """
    pool = np.asarray(pool, dtype=np.int64)
    k = np.asarray(k, dtype=np.int64)
    if pool.shape != k.shape or ((k < 0) | (k > pool)).any():
        raise ValueError("need pool and k of one shape with 0 <= k <= pool for every row")
    flip = 2 * k > pool
    rows, vals = _draw_sparse(rng, pool, np.where(flip, pool - k, k))
    # Flipped rows keep every value of their pool except the drawn ones.
    f_rows = np.flatnonzero(flip)
    all_rows = np.repeat(f_rows, pool[f_rows])
    all_vals = np.arange(len(all_rows)) - np.repeat(np.cumsum(pool[f_rows]) - pool[f_rows], pool[f_rows])
    width = int(pool.max(initial=0)) + 1
    excluded = flip[rows]
    drawn = np.sort(rows[excluded] * width + vals[excluded])
    keys = all_rows * width + all_vals
    keep = np.ones(len(keys), dtype=bool)
    if len(drawn):
        pos = np.minimum(np.searchsorted(drawn, keys), len(drawn) - 1)
        keep = drawn[pos] != keys
    rows = np.concatenate([rows[~excluded], all_rows[keep]])
    vals = np.concatenate([vals[~excluded], all_vals[keep]])
    order = np.lexsort((rng.random(len(rows)), rows))
    rows, vals = rows[order], vals[order]
    starts = np.concatenate([[0], np.cumsum(k)[:-1]])
    return rows, vals, np.arange(len(rows)) - starts[rows]


def _draw_sparse(
    rng: np.random.Generator, pool: NDArray[np.int64], k: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """``k[r] <= pool[r] / 2`` distinct values per row (sorted by row, then value).

    Each round draws exactly the missing number per row and drops repeats, which is
    sampling without replacement (every new value is uniform over those not yet
    drawn); at most half a row's pool is taken, so each round at least halves the
    deficit in expectation.
    """
    width = int(pool.max(initial=0)) + 1
    keys = np.empty(0, dtype=np.int64)
    have = np.zeros(len(k), dtype=np.int64)
    while True:
        todo = np.flatnonzero(have < k)
        if not len(todo):
            break
        r = np.repeat(todo, k[todo] - have[todo])
        keys = np.sort(np.concatenate([keys, r * width + rng.integers(0, pool[r])]))
        keys = keys[np.concatenate([[True], keys[1:] != keys[:-1]])]
        have = np.bincount(keys // width, minlength=len(k))
    return keys // width, keys % width
