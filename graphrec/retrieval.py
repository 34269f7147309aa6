"""Top-k retrieval over score matrices and embeddings, with seen items masked."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "SIMILARITIES",
    "embedding_scores",
    "mask_rows_",
    "similar",
    "top_k",
    "top_k_embeddings",
]

SIMILARITIES = ("dot", "cosine")


def _check_similarity(similarity: str) -> str:
    if similarity not in SIMILARITIES:
        raise ValueError(f"similarity must be one of {SIMILARITIES}, got {similarity!r}")
    return similarity


def embedding_scores(
    user_vectors: torch.Tensor, item_vectors: torch.Tensor, similarity: str = "dot"
) -> torch.Tensor:
    """Scores ``(n_users, n_items)`` by dot product or cosine similarity.

    Cosine scores lie in [-1, 1]; zero vectors score 0.
    """
    _check_similarity(similarity)
    if similarity == "cosine":
        user_vectors = torch.nn.functional.normalize(user_vectors, dim=1)
        item_vectors = torch.nn.functional.normalize(item_vectors, dim=1)
        return (user_vectors @ item_vectors.T).clamp_(-1.0, 1.0)
    return user_vectors @ item_vectors.T


def mask_rows_(
    scores: torch.Tensor, matrix: sp.csr_array, rows: NDArray[np.int64], value: float = -np.inf
) -> torch.Tensor:
    """Set ``scores[j, c] = value`` for every stored column ``c`` of ``matrix[rows[j]]``.

    In place and vectorised: the CSR slices of the rows are gathered at once, never
    densified.
    """
    indptr = matrix.indptr
    starts, ends = indptr[rows], indptr[rows + 1]
    counts = ends - starts
    total = int(counts.sum())
    if total == 0:
        return scores
    row_ids = np.repeat(np.arange(len(rows)), counts)
    # positions of each row's entries inside matrix.indices, without a Python loop
    offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    cols = matrix.indices[np.repeat(starts, counts) + offsets]
    r = torch.from_numpy(row_ids).to(scores.device)
    c = torch.from_numpy(cols.astype(np.int64)).to(scores.device)
    scores[r, c] = value
    return scores


# Block size of the CPU top-k below: 64 columns measured fastest among 32/64/128
# (2,048 x 40,981 scores, k = 20).
_TOPK_BLOCK = 64


def _row_top_k(t: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``torch.topk(t, k, dim=1, sorted=True)``, faster on CPU for long rows.

    Hand-written because ``torch.topk`` on CPU costs about as much as the matrix
    product that made the scores (full-catalogue evaluation is dominated by the
    two). A row's top ``k`` entries lie in the ``k`` blocks of ``_TOPK_BLOCK``
    columns with the largest maxima (any other block's maximum is beaten by
    ``k`` entries, one per chosen block), so one vectorised max over blocks,
    a top-``k`` of the block maxima and a top-``k`` of ``k * _TOPK_BLOCK``
    gathered candidates give the same scores. Ties may be broken differently
    than ``torch.topk`` (which documents no order for ties either).
    """
    n, n_items = t.shape
    b = _TOPK_BLOCK
    n_blocks = n_items // b
    if t.device.type != "cpu" or n == 0 or n_blocks < 8 * k:
        return torch.topk(t, k, dim=1, sorted=True)
    blocks = t[:, : n_blocks * b].view(n, n_blocks, b)
    _, best_blocks = torch.topk(blocks.amax(dim=2), k, dim=1, sorted=False)
    cand = torch.gather(blocks, 1, best_blocks.unsqueeze(2).expand(-1, -1, b)).reshape(n, k * b)
    cols = (best_blocks.unsqueeze(2) * b + torch.arange(b)).reshape(n, k * b)
    if n_blocks * b < n_items:  # the last, partial block always competes
        cand = torch.cat([cand, t[:, n_blocks * b :]], dim=1)
        tail = torch.arange(n_blocks * b, n_items).expand(n, -1)
        cols = torch.cat([cols, tail], dim=1)
    vals, pos = torch.topk(cand, k, dim=1, sorted=True)
    return vals, torch.gather(cols, 1, pos)


def top_k(
    scores: torch.Tensor | NDArray,
    k: int,
    *,
    exclude: sp.csr_array | None = None,
    rows: ArrayLike | None = None,
    allowed: NDArray[np.bool_] | None = None,
) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    """Indices and scores of the ``k`` best columns per row, best first.

    Parameters
    ----------
    scores : Tensor or ndarray, shape (n, n_items)
        A float32 tensor is modified in place when masking applies (it is the
        batch buffer of :meth:`Recommender.recommend`); a numpy array is copied.
    k : int
        List length; rows with fewer than ``k`` candidates are padded with
        index -1 and score -inf (also when ``k`` exceeds the catalogue).
    exclude : csr_array, optional
        Matrix whose stored entries (e.g. seen items) are removed; row
        ``rows[j]`` of it applies to score row ``j``.
    rows : array of int, optional
        Rows of ``exclude`` to use (default ``0..n-1``).
    allowed : bool array of shape (n_items,), optional
        Only these items may be returned (an allow-list for business rules).

    Returns
    -------
    idx : ndarray of int64, shape (n, k)
    top_scores : ndarray of float32, shape (n, k)

    Raises
    ------
    ValueError
        ``k < 1``.

    Examples
    --------
    >>> import numpy as np
    >>> idx, s = top_k(np.array([[0.1, 0.9, 0.5]], np.float32), 2)
    >>> idx.tolist()
    [[1, 2]]
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    if isinstance(scores, torch.Tensor):
        t = scores if scores.dtype == torch.float32 else scores.float()
    else:
        t = torch.from_numpy(np.array(scores, dtype=np.float32, copy=True))
    if t.ndim != 2:
        raise ValueError(f"scores must be 2-D (n, n_items), got shape {tuple(t.shape)}")
    n, n_items = t.shape
    if exclude is not None:
        r = np.arange(n, dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)
        if r.shape != (n,):
            raise ValueError(f"rows must have shape ({n},), got {r.shape}")
        if exclude.shape[1] != n_items:
            raise ValueError(f"exclude has {exclude.shape[1]} columns, scores have {n_items}")
        mask_rows_(t, exclude, r)
    if allowed is not None:
        allowed = np.asarray(allowed, dtype=bool)
        if allowed.shape != (n_items,):
            raise ValueError(f"allowed must have shape ({n_items},), got {allowed.shape}")
        t[:, torch.from_numpy(~allowed).to(t.device)] = -np.inf
    kk = min(int(k), n_items)
    vals, idx = _row_top_k(t, kk)
    vals = vals.cpu().numpy().astype(np.float32, copy=False)
    idx = idx.cpu().numpy().astype(np.int64, copy=False)
    invalid = ~np.isfinite(vals) & (vals < 0)
    if invalid.any():
        idx = idx.copy()
        idx[invalid] = -1
        vals = vals.copy()
        vals[invalid] = -np.inf
    if kk < k:
        idx = np.concatenate([idx, np.full((n, k - kk), -1, np.int64)], axis=1)
        vals = np.concatenate([vals, np.full((n, k - kk), -np.inf, np.float32)], axis=1)
    return idx, vals


def _as_tensor(vectors: torch.Tensor | NDArray, name: str) -> torch.Tensor:
    if isinstance(vectors, torch.Tensor):
        t = vectors.float()
    else:
        t = torch.from_numpy(np.ascontiguousarray(vectors, dtype=np.float32))
    if t.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n, embedding_dim), got shape {tuple(t.shape)}")
    return t


def top_k_embeddings(
    user_vectors: torch.Tensor | NDArray,
    item_vectors: torch.Tensor | NDArray,
    k: int,
    *,
    similarity: str = "dot",
    exclude: sp.csr_array | None = None,
    rows: ArrayLike | None = None,
    allowed: NDArray[np.bool_] | None = None,
    batch_size: int = 2048,
) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    """Exact top-``k`` items for query vectors: batched matmul + ``torch.topk``.

    Parameters
    ----------
    user_vectors : ndarray or Tensor, shape (n, embedding_dim)
    item_vectors : ndarray or Tensor, shape (n_items, embedding_dim)
    k : int
        Rows with fewer than ``k`` candidates are padded with -1 / -inf.
    similarity : {"dot", "cosine"}, default "dot"
    exclude : csr_array, optional
        Items to mask per row (e.g. the training interactions); row ``rows[j]``
        applies to query ``j``. Masked from the CSR slices, never densified.
    rows : array of int, optional
        Rows of ``exclude`` (default ``0..n-1``).
    allowed : bool array of shape (n_items,), optional
        Allow-list of items.
    batch_size : int, default 2048
        Queries scored at once (memory ``batch_size * n_items * 4`` bytes).

    Returns
    -------
    idx : ndarray of int64, shape (n, k)
    scores : ndarray of float32, shape (n, k)

    Raises
    ------
    ValueError
        ``k < 1``, an unknown ``similarity``, mismatched dimensions or ``rows``.

    Examples
    --------
    >>> import numpy as np
    >>> items = np.eye(3, dtype=np.float32)
    >>> top_k_embeddings(np.array([[0.0, 2.0, 1.0]]), items, 2)[0].tolist()
    [[1, 2]]
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    _check_similarity(similarity)
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, (int, np.integer))
        or batch_size < 1
    ):
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    u = _as_tensor(user_vectors, "user_vectors")
    v = _as_tensor(item_vectors, "item_vectors")
    if u.shape[1] != v.shape[1]:
        raise ValueError(f"user_vectors have dimension {u.shape[1]}, item_vectors {v.shape[1]}")
    n = u.shape[0]
    r = np.arange(n, dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)
    if r.shape != (n,):
        raise ValueError(f"rows must have shape ({n},), got {r.shape}")
    if similarity == "cosine":  # normalise once, not per batch
        u = torch.nn.functional.normalize(u, dim=1)
        v = torch.nn.functional.normalize(v, dim=1)
    out_idx = np.empty((n, k), np.int64)
    out_sc = np.empty((n, k), np.float32)
    vt = v.T.contiguous()
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        scores = u[start:stop] @ vt
        if similarity == "cosine":
            scores.clamp_(-1.0, 1.0)
        out_idx[start:stop], out_sc[start:stop] = top_k(
            scores, k, exclude=exclude, rows=r[start:stop], allowed=allowed
        )
    return out_idx, out_sc


def similar(
    vectors: torch.Tensor | NDArray,
    query: ArrayLike,
    k: int = 10,
    *,
    similarity: str = "cosine",
    batch_size: int = 2048,
) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    """Nearest rows of ``vectors`` to the rows ``query`` of itself, the row itself excluded.

    The engine of ``similar_items`` and ``similar_users``.

    Parameters
    ----------
    vectors : ndarray or Tensor, shape (n, embedding_dim)
    query : array of int
        Row indices into ``vectors``.
    k : int, default 10
    similarity : {"cosine", "dot"}, default "cosine"

    Returns
    -------
    idx, scores : ndarrays of shape (len(query), k)
        Padded with -1 / -inf when ``k >= n``.

    Raises
    ------
    ValueError
        ``k < 1`` or an unknown ``similarity``.
    IndexError
        A query index out of range.

    Examples
    --------
    >>> import numpy as np
    >>> v = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]], np.float32)
    >>> similar(v, [0], 1)[0].tolist()
    [[1]]
    """
    v = _as_tensor(vectors, "vectors")
    q = np.atleast_1d(np.asarray(query))
    if q.ndim != 1 or (q.size and q.dtype.kind not in "iu"):
        raise TypeError(f"query must be a 1-D array of row indices, got {q.dtype} shape {q.shape}")
    q = q.astype(np.int64)
    bad = (q < 0) | (q >= v.shape[0])
    if bad.any():
        raise IndexError(f"query out of range [0, {v.shape[0]}): {q[bad][:5].tolist()}")
    self_mask = sp.csr_array(
        (np.ones(len(q), np.float32), q, np.arange(len(q) + 1)), shape=(len(q), v.shape[0])
    )
    return top_k_embeddings(
        v[torch.from_numpy(q)],
        v,
        k,
        similarity=similarity,
        exclude=self_mask,
        batch_size=batch_size,
    )
