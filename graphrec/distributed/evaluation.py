"""Full-ranking metrics with the test users sharded over ranks and the sums gathered."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.utils.validation import check_is_fitted

from graphrec.data.interactions import Interactions
from graphrec.distributed.context import _current, _gather_sum
from graphrec.metrics import RANKING_METRICS, hit_matrix, metrics_from_hits

__all__ = ["evaluate_distributed"]


def evaluate_distributed(model: Any, test: Interactions, k: int | Sequence[int] = (10, 20), *,
                         batch_size: int = 2048) -> dict[str, float]:
    """Full-ranking ranking metrics, each rank scoring every ``world_size``-th test user.

    Per-user metric sums and user counts are all-gathered, so every rank returns
    the same means as :func:`graphrec.evaluate` would (its ranking metrics only:
    coverage, novelty and diversity are not sums over users). Works without a
    process group too (one rank).

    Parameters
    ----------
    model : fitted Recommender
    test : Interactions
        On the model's IdMaps.
    k : int or sequence of int
    batch_size : int
        Users scored at once.

    Returns
    -------
    dict
        ``"recall@K"``, ``"ndcg@K"``, ``"precision@K"``, ``"map@K"``, ``"hit@K"``,
        ``"mrr@K"`` for each K, and ``"n_users"``.

    Raises
    ------
    ValueError
        ``k < 1`` or ``test`` on other IdMaps.

    Examples
    --------
    >>> import graphrec as gr
    >>> ds = gr.datasets.synthetic(n_users=40, n_items=20, random_state=0)
    >>> m = gr.Popularity().fit(ds.train)
    >>> evaluate_distributed(m, ds.test, k=5)["n_users"]
    40.0
    """
    from graphrec.evaluation import rank_all

    check_is_fitted(model)
    ks = sorted({int(v) for v in np.atleast_1d(k)})
    if not ks or ks[0] < 1:
        raise ValueError(f"k must hold integers >= 1, got {k!r}")
    if test.n_users != model.n_users_ or test.n_items != model.n_items_:
        raise ValueError("test must share the model's IdMaps (same users and items)")
    ctx = _current()
    rank, world = ctx.rank, ctx.world_size
    relevant = test.to_csr()
    users = np.flatnonzero(np.diff(relevant.indptr) > 0)[rank::world]
    sums = [float(len(users))]
    if len(users):
        hits, n_rel = hit_matrix(rank_all(model, users, ks[-1], batch_size=batch_size), relevant[users])
        for kk in ks:
            per = metrics_from_hits(hits, n_rel, kk)
            sums += [float(np.sum(per[name])) for name in RANKING_METRICS]
    else:
        sums += [0.0] * (len(ks) * len(RANKING_METRICS))
    total = _gather_sum(sums, ctx)
    n = total[0]
    names = [f"{name}@{kk}" for kk in ks for name in RANKING_METRICS]
    out = {key: float(v / n) if n else float("nan") for key, v in zip(names, total[1:])}
    out["n_users"] = float(n)
    return out
