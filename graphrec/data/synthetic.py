"""A synthetic dataset with planted user/item communities, for tests and examples."""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from graphrec.data.datasets import Dataset
from graphrec.data.ids import IdMap
from graphrec.data.interactions import Interactions

__all__ = ["power_law", "sample_distinct", "synthetic"]

_POWER_LAW_ROUNDS = 4  # draws of the interactions lost to repeats


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


def power_law(
    n_interactions: int,
    n_users: int,
    n_items: int,
    *,
    n_communities: int | None = None,
    user_exponent: float = 1.6,
    item_exponent: float = 1.6,
    min_user_degree: int = 10,
    noise: float = 0.3,
    test_size: float = 0.2,
    random_state: int | np.random.Generator | None = 0,
) -> Dataset:
    """A large interaction graph with power-law degrees and communities, split per user.

    Built for scaling benchmarks: fully vectorised (no Python loop over users,
    items or interactions), so 16M interactions generate in seconds.

    * User activity: every user gets ``min_user_degree`` interactions plus a share
      of the rest proportional to a Pareto(``user_exponent``) weight, so user
      degrees have a power-law tail (a smaller exponent is a heavier tail).
    * Item popularity: Pareto(``item_exponent``) weights.
    * Communities: users and items are spread over ``n_communities`` (default one
      per 1,000 items); each interaction is drawn, with probability ``1 - noise``,
      from the user's own community, else from the whole catalogue, and within
      either pool in proportion to item popularity.
    * Repeated (user, item) draws are merged, so the result holds somewhat fewer
      than ``n_interactions`` pairs (the heavier the tails, the more); the count
      actually generated is ``ds.train.nnz + ds.test.nnz``.
    * Split: ``test_size`` of each user's items (rounded, at least 1, and at
      least one item stays in train) are held out at random.

    Parameters
    ----------
    n_interactions : int
        Draws before merging repeats (>= ``n_users * min_user_degree``).
    n_users, n_items : int
    n_communities : int, optional
        Default ``max(1, n_items // 1000)``; at most ``n_items``.
    user_exponent, item_exponent : float, default 1.6, 1.6
        Pareto shapes (> 0) of user activity and item popularity. The defaults
        give Gowalla-like quantiles at Gowalla's size (user degree median 24, 99th
        percentile 172; Gowalla 20 and 228; item degree median 16 and 15, 99th
        percentile 160 and 173).
    min_user_degree : int, default 10
        Interactions every user draws (>= 2, at most ``n_items``).
    noise : float in [0, 1], default 0.3
        Share of interactions drawn from the whole catalogue.
    test_size : float in (0, 1), default 0.2
    random_state : int, numpy Generator or None

    Returns
    -------
    Dataset
        ``name="power_law"``; identity IdMaps; ``item_info`` has ``category``
        (the item's community), ``user_info`` has ``community``.

    Raises
    ------
    ValueError
        A size, exponent, ``noise`` or ``test_size`` out of range, named in the message.

    Examples
    --------
    >>> ds = power_law(20_000, 500, 2_000, random_state=0)
    >>> ds.train.n_users, ds.train.n_items
    (500, 2000)
    >>> 15_000 < ds.train.nnz + ds.test.nnz <= 20_000
    True
    """
    for pname, value in (("n_interactions", n_interactions), ("n_users", n_users), ("n_items", n_items)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{pname} must be a positive int, got {value!r}")
    if not isinstance(min_user_degree, (int, np.integer)) or not 2 <= min_user_degree <= n_items:
        raise ValueError(f"min_user_degree must be an int in [2, n_items={n_items}], got {min_user_degree!r}")
    if n_interactions < n_users * min_user_degree:
        raise ValueError(
            f"n_interactions={n_interactions} must be >= n_users * min_user_degree = {n_users * min_user_degree}"
        )
    n_comm = max(1, n_items // 1000) if n_communities is None else n_communities
    if not isinstance(n_comm, (int, np.integer)) or not 1 <= n_comm <= n_items:
        raise ValueError(f"n_communities must be an int in [1, n_items={n_items}], got {n_communities!r}")
    for pname, fvalue in (("user_exponent", user_exponent), ("item_exponent", item_exponent)):
        if not np.isfinite(fvalue) or fvalue <= 0:
            raise ValueError(f"{pname} must be > 0, got {fvalue!r}")
    if not 0.0 <= noise <= 1.0:
        raise ValueError(f"noise must be in [0, 1], got {noise!r}")
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must be in (0, 1), got {test_size!r}")

    rng = np.random.default_rng(random_state)
    # User degrees: the minimum plus a Pareto-weighted share of the rest (stochastic rounding).
    w_user = rng.pareto(user_exponent, n_users) + 1.0
    extra = (n_interactions - n_users * min_user_degree) * w_user / w_user.sum()
    deg = min_user_degree + np.floor(extra).astype(np.int64)
    short = n_interactions - int(deg.sum())
    deg += np.bincount(rng.integers(0, n_users, short), minlength=n_users)
    deg = np.minimum(deg, n_items // 2)  # heavy users: at most half the catalogue
    user_comm = rng.integers(0, n_comm, n_users)
    item_comm = rng.integers(0, n_comm, n_items)
    pop = rng.pareto(item_exponent, n_items) + 1.0
    # Inverse-CDF sampling by popularity, within a community or over the catalogue:
    # items sorted by community, one cumulative sum; community c spans [lo[c], hi[c]).
    by_comm = np.argsort(item_comm, kind="stable")
    cum = np.cumsum(pop[by_comm])
    bounds = np.concatenate([[0.0], cum])[np.searchsorted(item_comm[by_comm], np.arange(n_comm + 1))]
    keys = np.empty(0, np.int64)
    todo = deg
    for _ in range(_POWER_LAW_ROUNDS):  # redraw what merging repeats removed
        u = np.repeat(np.arange(n_users, dtype=np.int64), todo)
        lo, hi = bounds[user_comm[u]], bounds[user_comm[u] + 1]
        outside = rng.random(len(u)) < noise
        lo[outside], hi[outside] = 0.0, cum[-1]
        pos = np.minimum(np.searchsorted(cum, lo + rng.random(len(u)) * (hi - lo), side="right"), n_items - 1)
        keys = np.sort(np.concatenate([keys, u * n_items + by_comm[pos]]), kind="stable")  # sorted runs: timsort
        keys = keys[np.concatenate([[True], keys[1:] != keys[:-1]])]  # merge repeats
        todo = deg - np.bincount(keys // n_items, minlength=n_users)
        if todo.sum() <= 0.001 * n_interactions:
            break
    u = keys // n_items
    # Per-user random holdout: order each user's items by a random 31-bit key (one int64 sort).
    order = np.argsort((u << 31) | rng.integers(0, 1 << 31, len(u)), kind="stable")
    u, i = u[order], keys[order] % n_items
    counts = np.bincount(u, minlength=n_users)
    starts = np.cumsum(counts) - counts
    rank = np.arange(len(u)) - starts[u]
    n_test = np.minimum(np.maximum(1, np.floor(test_size * counts + 0.5)).astype(np.int64), counts - 1)
    test = rank < n_test[u]
    users_map, items_map = IdMap.identity(n_users), IdMap.identity(n_items)
    train_x = Interactions(u[~test], i[~test], users=users_map, items=items_map)
    test_x = Interactions(u[test], i[test], users=users_map, items=items_map)
    item_info = pd.DataFrame({"category": item_comm}).rename_axis("item")
    user_info = pd.DataFrame({"community": user_comm}).rename_axis("user")
    return Dataset("power_law", train_x, test_x, item_info=item_info, user_info=user_info, source="power_law()")
