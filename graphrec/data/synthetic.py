"""A synthetic dataset with planted user/item communities, for tests and examples."""

from __future__ import annotations

import numpy as np
import pandas as pd

from graphrec.data.datasets import Dataset
from graphrec.data.ids import IdMap
from graphrec.data.interactions import Interactions

__all__ = ["synthetic"]

_MAX_BLOCK = 4_000_000  # random keys drawn per block of users (memory bound)


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
        interactions_per_user = int(round(density * n_items))
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

    rows_u, rows_i, rows_test = [], [], []
    block = max(1, _MAX_BLOCK // n_items)
    for lo in range(0, n_users, block):
        hi = min(n_users, lo + block)
        users = np.arange(lo, hi)
        mine = item_comm[None, :] == user_comm[users, None]
        # Own-community items first (random order), then the others (random order).
        keys = rng.random((hi - lo, n_items)) + np.where(mine, 0.0, 2.0)
        order = np.argsort(keys, axis=1)
        pos = np.arange(n_items)[None, :]
        take = (pos < k_in[users, None]) | (
            (pos >= own[users, None]) & (pos < own[users, None] + k_out[users, None])
        )
        r, c = np.nonzero(take)
        rows_u.append(users[r])
        rows_i.append(order[r, c])
        rows_test.append(c < n_test_u[users[r]])
    u = np.concatenate(rows_u)
    i = np.concatenate(rows_i)
    test = np.concatenate(rows_test)
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
