"""Full-ranking evaluation: every item ranked, the user's training items masked."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray
from sklearn.utils.validation import check_is_fitted

from graphrec.data.interactions import Interactions
from graphrec.metrics import (
    RANKING_METRICS,
    average_popularity,
    catalog_coverage,
    hit_matrix,
    intra_list_diversity,
    metrics_from_hits,
    novelty,
)
from graphrec.retrieval import rank_blocks, rows_per_block

__all__ = ["evaluate", "evaluate_rankings", "rank_all"]


def _as_k_list(k: int | Sequence[int]) -> list[int]:
    ks = [k] if isinstance(k, (int, np.integer)) else list(k)
    if not ks:
        raise ValueError("k must be a positive integer or a non-empty list of them")
    for v in ks:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"k must contain integers >= 1, got {v!r}")
    return sorted({int(v) for v in ks})


def rank_all(
    model: Any,
    users: NDArray[np.int64],
    k: int,
    *,
    exclude: sp.csr_array | None = None,
    batch_size: int = 2048,
    similarity: str | None = None,
    max_block_bytes: int | None = None,
) -> NDArray[np.int64]:
    """Top-``k`` item indices of ``users`` over the full catalogue, in blocks of users.

    ``exclude`` (default: the model's ``seen_``) is masked before ranking. A block
    holds ``batch_size`` users, fewer where its scores would pass ``max_block_bytes``
    (default: the model's ``_max_block_bytes``, else
    :data:`graphrec.retrieval.MAX_BLOCK_BYTES`), so memory is bounded whatever the
    catalogue size; the result does not depend on the block size.
    """
    exclude = model.seen_ if exclude is None else exclude
    if max_block_bytes is None:
        max_block_bytes = getattr(model, "_max_block_bytes", None)
    rows = rows_per_block(model.n_items_, batch_size, max_block_bytes)
    blocks = ((start, scores) for start, _, scores in model._score_batches(users, similarity, rows))
    return rank_blocks(blocks, len(users), k, exclude=exclude, rows=users)[0]


def evaluate_rankings(
    ranked: NDArray[np.int64],
    relevant: sp.csr_array,
    k: int | Sequence[int] = (10, 20),
    *,
    item_popularity: NDArray | None = None,
    item_features: NDArray | None = None,
    n_items: int | None = None,
    n_train_users: int | None = None,
    per_user: bool = False,
) -> dict[str, Any]:
    """Metrics of precomputed rankings (rows aligned with ``relevant`` rows).

    Rows whose ``relevant`` row is empty are skipped and counted in
    ``"n_skipped_users"``. See :func:`evaluate` for the returned keys.
    """
    ks = _as_k_list(k)
    ranked = np.asarray(ranked, dtype=np.int64)
    if ranked.shape[1] < ks[-1]:
        raise ValueError(f"ranked lists have length {ranked.shape[1]} < max k {ks[-1]}")
    relevant = sp.csr_array(relevant)
    has_rel = np.diff(relevant.indptr) > 0
    ranked_eval = ranked[has_rel]
    hits, n_rel = hit_matrix(ranked_eval, relevant[has_rel])
    out: dict[str, Any] = {}
    frames = {}
    for kk in ks:
        per = metrics_from_hits(hits, n_rel, kk)
        for name in RANKING_METRICS:
            out[f"{name}@{kk}"] = float(per[name].mean()) if len(n_rel) else float("nan")
            frames[f"{name}@{kk}"] = per[name]
        top = ranked_eval[:, :kk]
        n_items = n_items if n_items is not None else relevant.shape[1]
        out[f"coverage@{kk}"] = catalog_coverage(top, n_items)
        if item_popularity is not None:
            out[f"novelty@{kk}"] = novelty(top, item_popularity, n_train_users or len(ranked))
            out[f"avg_popularity@{kk}"] = average_popularity(top, item_popularity)
        if item_features is not None:
            div = intra_list_diversity(top, item_features)
            out[f"diversity@{kk}"] = float(np.nanmean(div)) if np.isfinite(div).any() else float("nan")
    out["n_users"] = int(has_rel.sum())
    out["n_skipped_users"] = int((~has_rel).sum())
    if per_user:
        out["per_user"] = pd.DataFrame({"user": np.flatnonzero(has_rel), **frames})
    return out


def evaluate(
    model: Any,
    test: Interactions,
    k: int | Sequence[int] = (10, 20),
    *,
    exclude: sp.csr_array | None = None,
    similarity: str | None = None,
    item_features: NDArray | None = None,
    batch_size: int = 2048,
    per_user: bool = False,
    max_block_bytes: int | None = None,
) -> dict[str, Any]:
    """Full-ranking evaluation of a fitted model on held-out interactions.

    Every item is ranked for every user with at least one test interaction; the
    user's training items (``model.seen_``, or ``exclude``) are masked. Users
    without test interactions are skipped and counted.

    Parameters
    ----------
    model : fitted Recommender
    test : Interactions
        On the same IdMaps as the training data.
    k : int or sequence of int, default (10, 20)
    exclude : csr_array, optional
        Items to mask per user (default: the training interactions).
    similarity : {"dot", "cosine"}, optional
        Override the model's scoring.
    item_features : ndarray, optional
        For intra-list diversity: (n_items, d) embeddings or (n_items,) categories.
        Defaults to the model's ``item_embeddings_`` when it has them.
    batch_size : int, default 2048
        Users scored at once (memory ~ batch_size * n_items * 4 bytes).
    per_user : bool, default False
        Add a ``"per_user"`` DataFrame of per-user metrics.
    max_block_bytes : int, optional
        Bound on one block of scores (default :data:`graphrec.retrieval.MAX_BLOCK_BYTES`):
        blocks shrink below ``batch_size`` users for large catalogues.

    Returns
    -------
    dict
        ``"recall@K"``, ``"ndcg@K"``, ``"precision@K"``, ``"map@K"``, ``"hit@K"``,
        ``"mrr@K"``, ``"coverage@K"``, ``"novelty@K"``, ``"avg_popularity@K"``,
        ``"diversity@K"`` (when features are known) for each K, plus ``"n_users"``,
        ``"n_skipped_users"`` and ``"seconds"``.

    Raises
    ------
    ValueError
        ``k`` invalid, or ``test`` does not match the model's users/items.
    """
    check_is_fitted(model)
    if not isinstance(test, Interactions):
        raise TypeError(f"test must be Interactions, got {type(test).__name__}")
    if test.n_users != model.n_users_ or test.n_items != model.n_items_:
        raise ValueError(
            f"test has {test.n_users} users x {test.n_items} items, the model "
            f"{model.n_users_} x {model.n_items_}: use a split on the training IdMaps"
        )
    ks = _as_k_list(k)
    start = time.perf_counter()
    relevant = test.to_csr()
    users = np.flatnonzero(np.diff(relevant.indptr) > 0)
    ranked = rank_all(model, users, ks[-1], exclude=exclude, batch_size=batch_size, similarity=similarity,
                      max_block_bytes=max_block_bytes)
    if item_features is None:
        item_features = getattr(model, "item_embeddings_", None)
    out = evaluate_rankings(
        ranked,
        relevant[users],
        ks,
        item_popularity=np.bincount(model.seen_.indices, minlength=model.n_items_),
        item_features=item_features,
        n_items=test.n_items,
        n_train_users=model.n_users_,
        per_user=per_user,
    )
    out["n_skipped_users"] = int(test.n_users - len(users))
    if per_user:
        out["per_user"]["user"] = users
    out["seconds"] = time.perf_counter() - start
    return out
