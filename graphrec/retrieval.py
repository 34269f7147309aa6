"""Top-k retrieval over score matrices and embeddings, with seen items masked."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from numpy.typing import ArrayLike, NDArray

__all__ = ["top_k", "mask_rows_", "embedding_scores", "SIMILARITIES"]

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
        Modified in place when it is a float32 tensor and masking applies.
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
    t = torch.as_tensor(scores)
    if t.dtype != torch.float32:
        t = t.float()
    n, n_items = t.shape
    if exclude is not None:
        r = np.arange(n, dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)
        mask_rows_(t, exclude, r)
    if allowed is not None:
        allowed = np.asarray(allowed, dtype=bool)
        if allowed.shape != (n_items,):
            raise ValueError(f"allowed must have shape ({n_items},), got {allowed.shape}")
        t[:, torch.from_numpy(~allowed).to(t.device)] = -np.inf
    kk = min(int(k), n_items)
    vals, idx = torch.topk(t, kk, dim=1, sorted=True)
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
