"""Ranking and beyond-accuracy metrics, vectorised over users.

Every ranking metric takes ``ranked`` (n_users, L) item indices, best first, with
-1 padding, and ``relevant``: a CSR matrix (n_users, n_items) whose stored entries
are the relevant items of each row, or a list of item-index collections. It
returns one value per user (NaN for users without relevant items). Binary
relevance, following the LightGCN protocol: Recall@K = hits / ``|relevant|``,
NDCG@K with the ideal DCG over min(``|relevant|``, K) hits, MAP@K normalised by
min(``|relevant|``, K).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
import torch
from numpy.typing import NDArray

from graphrec.utils import check_positive_int

__all__ = [
    "RANKING_METRICS",
    "average_popularity",
    "catalog_coverage",
    "hit_matrix",
    "hit_rate_at_k",
    "intra_list_diversity",
    "map_at_k",
    "mrr_at_k",
    "ndcg_at_k",
    "novelty",
    "precision_at_k",
    "recall_at_k",
]


def _as_csr(relevant: sp.csr_array | Sequence, n_rows: int) -> sp.csr_array:
    if sp.issparse(relevant):
        rel = sp.csr_array(relevant)
        if rel.shape[0] != n_rows:
            raise ValueError(f"relevant has {rel.shape[0]} rows, ranked has {n_rows}")
        return rel
    if len(relevant) != n_rows:
        raise ValueError(f"relevant has {len(relevant)} rows, ranked has {n_rows}")
    lists = [np.unique(np.asarray(list(r), dtype=np.int64)) for r in relevant]
    lengths = np.array([len(r) for r in lists], dtype=np.int64)
    cols = np.concatenate(lists) if lists else np.empty(0, np.int64)
    n_cols = int(cols.max()) + 1 if len(cols) else 1
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    return sp.csr_array((np.ones(len(cols), np.float32), cols, indptr), shape=(n_rows, n_cols))


def hit_matrix(
    ranked: NDArray[np.int64], relevant: sp.csr_array | Sequence
) -> tuple[NDArray[np.bool_], NDArray[np.int64]]:
    """Which ranked items are relevant, and how many relevant items each row has.

    Vectorised membership test: (row, item) pairs are encoded as one integer key
    and looked up with ``searchsorted`` in the sorted keys of ``relevant``.

    Returns
    -------
    hits : bool ndarray, shape (n_users, L)
    n_relevant : int ndarray, shape (n_users,)
    """
    ranked = np.asarray(ranked, dtype=np.int64)
    if ranked.ndim != 2:
        raise ValueError(f"ranked must be 2-D (n_users, L), got shape {ranked.shape}")
    n, _ = ranked.shape
    rel = _as_csr(relevant, n)
    rel.sum_duplicates()
    n_relevant = np.diff(rel.indptr).astype(np.int64)
    width = max(rel.shape[1], int(ranked.max(initial=0)) + 1)
    rel_rows = np.repeat(np.arange(n, dtype=np.int64), n_relevant)
    keys = rel_rows * width + rel.indices  # sorted: rows ascending, indices sorted per row
    rel_keys = np.sort(keys)
    query = np.arange(n, dtype=np.int64)[:, None] * width + ranked
    if len(rel_keys) == 0:
        return np.zeros(ranked.shape, bool), n_relevant
    pos = np.searchsorted(rel_keys, query).clip(max=len(rel_keys) - 1)
    hits = (rel_keys[pos] == query) & (ranked >= 0)
    return hits, n_relevant


def _check_k(k: int, width: int) -> int:
    k = check_positive_int(k, "k")
    if k > width:
        raise ValueError(f"k={k} exceeds the ranked list length {width}")
    return int(k)


def _per_user(values: NDArray, n_relevant: NDArray) -> NDArray[np.float64]:
    out = values.astype(np.float64)
    out[n_relevant == 0] = np.nan
    return out


def precision_at_k(ranked, relevant, k: int) -> NDArray[np.float64]:
    """Hits in the top ``k`` divided by ``k``.

    Examples
    --------
    >>> precision_at_k([[3, 1, 2]], [[1, 2]], 2).tolist()
    [0.5]
    """
    hits, n_rel = hit_matrix(ranked, relevant)
    k = _check_k(k, hits.shape[1])
    return _per_user(hits[:, :k].sum(1) / k, n_rel)


def recall_at_k(ranked, relevant, k: int) -> NDArray[np.float64]:
    """Hits in the top ``k`` divided by the number of relevant items.

    Examples
    --------
    >>> recall_at_k([[3, 1, 2]], [[1, 2]], 2).tolist()
    [0.5]
    """
    hits, n_rel = hit_matrix(ranked, relevant)
    k = _check_k(k, hits.shape[1])
    return _per_user(hits[:, :k].sum(1) / np.maximum(n_rel, 1), n_rel)


def _discounts(k: int) -> NDArray[np.float64]:
    return 1.0 / np.log2(np.arange(2, k + 2))


def ndcg_at_k(ranked, relevant, k: int) -> NDArray[np.float64]:
    """Normalised DCG with binary relevance; ideal DCG over min(``|relevant|``, k) hits.

    Examples
    --------
    >>> round(float(ndcg_at_k([[3, 1, 2]], [[1, 2]], 3)[0]), 4)  # (1/log2 3 + 1/2) / (1 + 1/log2 3)
    0.6934
    """
    hits, n_rel = hit_matrix(ranked, relevant)
    k = _check_k(k, hits.shape[1])
    disc = _discounts(k)
    dcg = hits[:, :k] @ disc
    ideal = np.concatenate([[0.0], np.cumsum(disc)])[np.minimum(n_rel, k)]
    return _per_user(np.divide(dcg, ideal, out=np.zeros_like(dcg), where=ideal > 0), n_rel)


def map_at_k(ranked, relevant, k: int) -> NDArray[np.float64]:
    """Mean average precision: sum of precision@j at each hit j, over min(``|relevant|``, k).

    Examples
    --------
    >>> map_at_k([[3, 1, 2]], [[1, 2]], 3).tolist()  # (1/2 + 2/3) / 2
    [0.5833333333333333]
    """
    hits, n_rel = hit_matrix(ranked, relevant)
    k = _check_k(k, hits.shape[1])
    h = hits[:, :k]
    prec = np.cumsum(h, axis=1) / np.arange(1, k + 1)
    ap = (prec * h).sum(1) / np.maximum(np.minimum(n_rel, k), 1)
    return _per_user(ap, n_rel)


def hit_rate_at_k(ranked, relevant, k: int) -> NDArray[np.float64]:
    """1 if any of the top ``k`` is relevant, else 0."""
    hits, n_rel = hit_matrix(ranked, relevant)
    k = _check_k(k, hits.shape[1])
    return _per_user(np.asarray(hits[:, :k].any(1)), n_rel)


def mrr_at_k(ranked, relevant, k: int) -> NDArray[np.float64]:
    """Reciprocal rank of the first relevant item in the top ``k`` (0 if none)."""
    hits, n_rel = hit_matrix(ranked, relevant)
    k = _check_k(k, hits.shape[1])
    h = hits[:, :k]
    first = h.argmax(1)
    return _per_user(np.where(h.any(1), 1.0 / (first + 1), 0.0), n_rel)


def metrics_from_hits(hits: NDArray[np.bool_], n_rel: NDArray[np.int64], k: int) -> dict[str, NDArray]:
    """All ranking metrics at ``k`` from a precomputed hit matrix (one pass)."""
    h = hits[:, :k]
    n_hits = h.sum(1)
    disc = _discounts(k)
    ideal = np.concatenate([[0.0], np.cumsum(disc)])[np.minimum(n_rel, k)]
    dcg = h @ disc
    prec_j = np.cumsum(h, axis=1) / np.arange(1, k + 1)
    first = h.argmax(1)
    return {
        "precision": n_hits / k,
        "recall": n_hits / np.maximum(n_rel, 1),
        "ndcg": np.divide(dcg, ideal, out=np.zeros_like(dcg), where=ideal > 0),
        "map": (prec_j * h).sum(1) / np.maximum(np.minimum(n_rel, k), 1),
        "hit": h.any(1).astype(np.float64),
        "mrr": np.where(h.any(1), 1.0 / (first + 1), 0.0),
    }


RANKING_METRICS = ("precision", "recall", "ndcg", "map", "hit", "mrr")


# ---------------------------------------------------------------------- beyond accuracy
def catalog_coverage(ranked: NDArray[np.int64], n_items: int) -> float:
    """Fraction of the catalogue that appears in at least one list."""
    ranked = np.asarray(ranked)
    shown = np.unique(ranked[ranked >= 0])
    return len(shown) / n_items if n_items else 0.0


def novelty(ranked: NDArray[np.int64], item_popularity: NDArray, n_users: int) -> float:
    """Mean self-information ``-log2(pop(i) / n_users)`` of recommended items.

    Items never seen in training count as popularity 1 (maximally novel).
    """
    ranked = np.asarray(ranked)
    items = ranked[ranked >= 0]
    if len(items) == 0:
        return float("nan")
    p = np.maximum(np.asarray(item_popularity, np.float64)[items], 1.0) / max(n_users, 1)
    return float(np.mean(-np.log2(np.minimum(p, 1.0))))


def average_popularity(ranked: NDArray[np.int64], item_popularity: NDArray) -> float:
    """Mean training popularity of recommended items."""
    ranked = np.asarray(ranked)
    items = ranked[ranked >= 0]
    return float(np.mean(np.asarray(item_popularity)[items])) if len(items) else float("nan")


# Floats gathered at once by intra_list_diversity (64 MB of float32).
_DIVERSITY_BLOCK_FLOATS = 16 * 2**20


def intra_list_diversity(
    ranked: NDArray[np.int64], item_features: NDArray, *, categorical: bool | None = None
) -> NDArray[np.float64]:
    """Per-list mean pairwise dissimilarity of recommended items.

    Parameters
    ----------
    ranked : (n_users, L) int, -1 padded
    item_features : (n_items, d) float embeddings -> 1 - cosine similarity;
        or (n_items,) labels (categories) -> share of pairs in different categories.
    categorical : bool, optional
        Force the interpretation; default: 1-D features are categorical.

    Returns
    -------
    ndarray of float64, shape (n_users,); NaN for lists with fewer than 2 items.
    """
    ranked = np.asarray(ranked, dtype=np.int64)
    feats = np.asarray(item_features)
    categorical = feats.ndim == 1 if categorical is None else categorical
    valid = ranked >= 0
    safe = np.where(valid, ranked, 0)
    n_valid = valid.sum(1)
    pairs = n_valid * (n_valid - 1)
    if categorical:
        codes = np.unique(feats, return_inverse=True)[1].ravel()[safe]
        same = (codes[:, :, None] == codes[:, None, :]) & valid[:, :, None] & valid[:, None, :]
        sim_sum = same.sum((1, 2)) - n_valid  # drop the diagonal
    else:
        # Sum of pairwise cosines without the (L x L) Gram matrices: with unit rows v_i,
        # sum_{i != j} <v_i, v_j> = |sum_i v_i|^2 - sum_i |v_i|^2 (zero vectors count 0).
        unit = torch.nn.functional.normalize(torch.from_numpy(feats.astype(np.float32)), dim=1)
        # In blocks of rows: the gathered (rows, L, d) vectors are the big temporary.
        rows = max(1, _DIVERSITY_BLOCK_FLOATS // max(1, ranked.shape[1] * unit.shape[1]))
        sim_sum = np.empty(len(ranked))
        for lo in range(0, len(ranked), rows):
            blk, ok_blk = torch.from_numpy(safe[lo : lo + rows]), torch.from_numpy(valid[lo : lo + rows])
            v = unit[blk] * ok_blk[:, :, None]
            total = v.sum(1)
            sim_sum[lo : lo + rows] = ((total * total).sum(1) - (v * v).sum((1, 2))).double().numpy()
    out = np.full(len(ranked), np.nan)
    ok = pairs > 0
    out[ok] = 1.0 - sim_sum[ok] / pairs[ok]
    return out
