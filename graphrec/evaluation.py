"""Full-ranking evaluation: every item ranked, the user's training items masked."""

from __future__ import annotations

import time
import warnings
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

#: what each intra-list diversity key measured (the name says which similarity was used)
DIVERSITY_METRICS = {
    "category_diversity": "share of pairs in different item categories",
    "embedding_diversity": "1 - cosine similarity of the model's item embeddings",
    "feature_diversity": "1 - cosine similarity of the item feature vectors passed in",
}


class _Results(dict):  # type: ignore[type-arg]
    """The metrics dict; also answers the deprecated ``"diversity@K"`` with a warning.

    ``diversity@K`` meant category diversity when categories were passed and embedding
    diversity otherwise, so one name carried two measurements. It is not a key (tables
    and JSON show only the named metrics); reading it warns and returns the value it
    used to return (categories or the given features if any, else the embeddings).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.aliases: dict[str, str] = {}

    def _resolve(self, key: Any) -> Any:
        if key not in self.aliases or dict.__contains__(self, key):
            return key
        new = self.aliases[key]
        warnings.warn(
            f"{key!r} is deprecated: it meant category diversity when item categories were given and "
            f"embedding diversity otherwise; read {new!r} (this result) or the other *_diversity@K key. "
            f"It will be removed in graphrec 0.3.",
            FutureWarning,
            stacklevel=3,
        )
        return new

    def __getitem__(self, key: Any) -> Any:
        return super().__getitem__(self._resolve(key))

    def get(self, key: Any, default: Any = None) -> Any:
        return super().get(self._resolve(key), default)

    def __contains__(self, key: object) -> bool:
        return super().__contains__(key) or key in self.aliases


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
    item_embeddings: NDArray | None = None,
) -> dict[str, Any]:
    """Metrics of precomputed rankings (rows aligned with ``relevant`` rows).

    Rows whose ``relevant`` row is empty are skipped and counted in
    ``"n_skipped_users"``. See :func:`evaluate` for the returned keys.
    ``item_features`` of shape (n_items,) are categories (``"category_diversity@K"``),
    of shape (n_items, d) feature vectors (``"feature_diversity@K"``);
    ``item_embeddings`` (n_items, d) are a model's embeddings (``"embedding_diversity@K"``).
    """
    ks = _as_k_list(k)
    ranked = np.asarray(ranked, dtype=np.int64)
    if ranked.shape[1] < ks[-1]:
        raise ValueError(f"ranked lists have length {ranked.shape[1]} < max k {ks[-1]}")
    relevant = sp.csr_array(relevant)
    has_rel = np.diff(relevant.indptr) > 0
    ranked_eval = ranked[has_rel]
    hits, n_rel = hit_matrix(ranked_eval, relevant[has_rel])
    out = _Results()
    frames = {}
    diversity: list[tuple[str, NDArray]] = []
    if item_features is not None:
        feats = np.asarray(item_features)
        diversity.append(("category_diversity" if feats.ndim == 1 else "feature_diversity", feats))
    if item_embeddings is not None:
        diversity.append(("embedding_diversity", np.asarray(item_embeddings)))
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
        for name, feats in diversity:
            div = intra_list_diversity(top, feats, categorical=name == "category_diversity")
            out[f"{name}@{kk}"] = float(np.nanmean(div)) if np.isfinite(div).any() else float("nan")
        if diversity:  # the old name, answered with a deprecation warning (see _Results)
            out.aliases[f"diversity@{kk}"] = f"{diversity[0][0]}@{kk}"
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
        For intra-list diversity: (n_items,) categories (``"category_diversity@K"``) or
        (n_items, d) feature vectors (``"feature_diversity@K"``, 1 - cosine). Whether or
        not they are given, a model with ``item_embeddings_`` also gets
        ``"embedding_diversity@K"`` (1 - cosine of its own embeddings).
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
        ``"mrr@K"``, ``"coverage@K"``, ``"novelty@K"``, ``"avg_popularity@K"``, and
        the intra-list diversities whose data is known, each named by the similarity
        it used: ``"category_diversity@K"``, ``"feature_diversity@K"``,
        ``"embedding_diversity@K"``; plus ``"n_users"``, ``"n_skipped_users"`` and
        ``"seconds"``. The old ``"diversity@K"`` (categories when given, else
        embeddings) is deprecated: it is not a key, and reading it warns
        (``FutureWarning``) and returns what it used to.

        .. deprecated:: 0.2
            ``"diversity@K"``: read ``"category_diversity@K"`` or
            ``"embedding_diversity@K"``; removed in 0.3.

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
    item_embeddings = getattr(model, "item_embeddings_", None)
    out = evaluate_rankings(
        ranked,
        relevant[users],
        ks,
        item_popularity=np.bincount(model.seen_.indices, minlength=model.n_items_),
        item_features=item_features,
        n_items=test.n_items,
        n_train_users=model.n_users_,
        per_user=per_user,
        item_embeddings=item_embeddings,
    )
    out["n_skipped_users"] = int(test.n_users - len(users))
    if per_user:
        out["per_user"]["user"] = users
    out["seconds"] = time.perf_counter() - start
    return out
