"""Top-k retrieval over score matrices and embeddings, with seen items masked.

The one home of the hot path every ranking goes through:

* :func:`score_blocks` is the batched embedding scorer (one reused buffer, numpy's
  BLAS on CPU); ``EmbeddingRecommender`` (recommend, evaluate), :func:`top_k_embeddings`
  and :func:`similar` (``similar_items``/``similar_users``) all score through it;
* :func:`top_k` ranks one block (seen items and block-lists masked in place);
* :func:`rank_blocks` is the one "pool -> mask -> top-k -> re-rank -> cut to k"
  loop, used by ``Recommender.recommend``, :func:`top_k_embeddings` and
  :func:`graphrec.coldstart.recommend_new_users`.

One piece (~480 lines, half of it docstrings and examples): the scorer, the
masking, the top-k and the ranking loop are one hot path, kept together so that a
change to one is made knowing the others.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
import torch
from numpy.typing import ArrayLike, NDArray

from graphrec.utils import check_positive_int

if TYPE_CHECKING:
    from graphrec.rerank import Reranker

__all__ = [
    "MAX_BLOCK_BYTES",
    "SIMILARITIES",
    "embedding_scores",
    "mask_rows_",
    "rank_blocks",
    "rows_per_block",
    "score_blocks",
    "similar",
    "top_k",
    "top_k_embeddings",
]

SIMILARITIES = ("dot", "cosine")

#: Default bound on one block of float32 scores (rows x catalogue) in recommend, evaluate
#: and :func:`score_blocks`: 512 MiB keeps 2,048-user blocks up to 65,536 items and
#: shrinks the block beyond, so memory stays flat however large the catalogue.
MAX_BLOCK_BYTES = 512 * 2**20


def rows_per_block(n_columns: int, batch_size: int, max_block_bytes: int | None = None) -> int:
    """Rows scored at once: ``batch_size``, fewer when a float32 block would pass ``max_block_bytes``.

    Parameters
    ----------
    n_columns : int
        Scores per row (the catalogue size).
    batch_size : int
        Preferred rows per block.
    max_block_bytes : int, optional
        Bound on ``rows * n_columns * 4`` (default :data:`MAX_BLOCK_BYTES`); at least
        one row is always scored.

    Returns
    -------
    int

    Raises
    ------
    ValueError
        ``batch_size`` or ``max_block_bytes`` not a positive integer.

    Examples
    --------
    >>> rows_per_block(1_000_000, 2048, max_block_bytes=400_000_000)
    100
    >>> rows_per_block(10, 2048)
    2048
    """
    batch_size = check_positive_int(batch_size, "batch_size")
    limit = MAX_BLOCK_BYTES if max_block_bytes is None else check_positive_int(max_block_bytes, "max_block_bytes")
    return max(1, min(batch_size, limit // (4 * max(1, int(n_columns)))))


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
    k = check_positive_int(k, "k")
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
    kk = min(k, n_items)
    top_vals, top_idx = _row_top_k(t, kk)
    vals: NDArray[np.float32] = top_vals.cpu().numpy().astype(np.float32, copy=False)
    idx: NDArray[np.int64] = top_idx.cpu().numpy().astype(np.int64, copy=False)
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
        t = vectors.detach().float()
    else:
        t = torch.from_numpy(np.ascontiguousarray(vectors, dtype=np.float32))
    if t.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n, embedding_dim), got shape {tuple(t.shape)}")
    return t


def score_blocks(
    queries: torch.Tensor,
    items: torch.Tensor,
    similarity: str = "dot",
    *,
    batch_size: int = 2048,
    rows: NDArray[np.int64] | None = None,
) -> Iterator[tuple[int, torch.Tensor]]:
    """Scores of query vectors against every item, one block of queries at a time.

    The one batched embedding scorer (recommend, evaluate, :func:`top_k_embeddings`,
    :func:`similar`).

    Parameters
    ----------
    queries : Tensor, shape (n_queries, embedding_dim)
    items : Tensor, shape (n_items, embedding_dim)
        On the device of ``queries``.
    similarity : {"dot", "cosine"}, default "dot"
        Cosine scores are clamped to [-1, 1]; zero vectors score 0.
    batch_size : int, default 2048
        Queries per block (memory ``batch_size * n_items * 4`` bytes), fewer where
        that passes :data:`MAX_BLOCK_BYTES` (:func:`rows_per_block`).
    rows : array of int, optional
        Score ``queries[rows]`` (e.g. a model's user table and the requested users)
        instead of every row; gathered block by block.

    Yields
    ------
    start : int
        Position of the block's first query (in ``rows`` when given).
    scores : Tensor of float32, shape (len(block), n_items)
        A view of one buffer reused for every block: valid only until the next block
        is requested (callers mask and rank it in place, as :func:`rank_blocks` does).

    Raises
    ------
    ValueError
        An unknown ``similarity`` or a bad ``batch_size``.

    Examples
    --------
    >>> import torch
    >>> [(start, s.tolist()) for start, s in score_blocks(torch.eye(2), torch.eye(2), batch_size=1)]
    [(0, [[1.0, 0.0]]), (1, [[0.0, 1.0]])]
    """
    _check_similarity(similarity)
    batch_size = rows_per_block(len(items), batch_size)
    n = len(queries) if rows is None else len(rows)
    v = items
    if similarity == "cosine":  # the catalogue once; queries per block
        v = torch.nn.functional.normalize(v, dim=1)
    # One score buffer reused across blocks: a fresh (batch x n_items) tensor per
    # block costs as much in page faults as the matrix product itself on CPU.
    # (Small queries stay in torch: waking OpenBLAS's threads for one user costs ~20 ms.)
    on_cpu = v.device.type == "cpu" and n >= 64
    buffer = torch.empty((min(batch_size, n), v.shape[0]), device=v.device)
    if on_cpu:
        # numpy's OpenBLAS sgemm measured 2.4x faster than torch's MKL one on the
        # AMD CPUs we benchmark on (0.115 s vs 0.28 s per 2048 x 40,981 x 64 block);
        # the buffer is shared, so torch ranks it without a copy.
        v_np, buffer_np = v.numpy(), buffer.numpy()
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        if rows is None:
            q = queries[start:stop]
        else:
            q = queries[torch.from_numpy(rows[start:stop]).to(queries.device)]
        if similarity == "cosine":
            q = torch.nn.functional.normalize(q, dim=1)
        out = buffer[: stop - start]
        if on_cpu:
            np.matmul(q.numpy(), v_np.T, out=buffer_np[: stop - start])
        else:
            torch.mm(q, v.T, out=out)
        if similarity == "cosine":
            out.clamp_(-1.0, 1.0)
        yield start, out


def rank_blocks(
    blocks: Iterable[tuple[int, torch.Tensor | NDArray]],
    n: int,
    k: int,
    *,
    exclude: sp.csr_array | None = None,
    rows: NDArray[np.int64] | None = None,
    allowed: NDArray[np.bool_] | None = None,
    reranker: Reranker | None = None,
    model: Any = None,
) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    """Top-``k`` lists from blocks of scores: pool -> mask -> top-k -> re-rank -> cut to ``k``.

    The one ranking loop behind ``Recommender.recommend``, :func:`top_k_embeddings`
    and :func:`graphrec.coldstart.recommend_new_users`.

    Parameters
    ----------
    blocks : iterable of (start, scores)
        Consecutive score blocks covering rows ``0..n-1`` (e.g. from
        :func:`score_blocks`); a float32 tensor block is masked in place.
    n : int
        Total number of rows.
    k : int
        List length; short rows are padded with -1 / -inf.
    exclude : csr_array, optional
        Items to mask per row (e.g. seen items): row ``rows[j]`` applies to row ``j``.
    rows : array of int, shape (n,), optional
        Rows of ``exclude`` (default ``0..n-1``).
    allowed : bool array of shape (n_items,), optional
        Allow-list of items.
    reranker : Reranker, optional
        Re-ranks a pool of ``reranker.pool_size(k)`` candidates down to ``k``.
    model : Recommender, optional
        Passed to the re-ranker (its item embeddings are the default similarity).

    Returns
    -------
    idx : ndarray of int64, shape (n, k)
    scores : ndarray of float32, shape (n, k)

    Raises
    ------
    ValueError
        ``k < 1`` or mismatched shapes.

    Examples
    --------
    >>> import numpy as np
    >>> s = np.array([[0.1, 0.9, 0.5], [0.3, 0.2, 0.1]], np.float32)
    >>> rank_blocks([(0, s[:1]), (1, s[1:])], 2, 2)[0].tolist()
    [[1, 2], [0, 1]]
    """
    k = check_positive_int(k, "k")
    pool = k if reranker is None else max(k, reranker.pool_size(k))
    if exclude is not None and rows is None:
        rows = np.arange(n, dtype=np.int64)
    out_idx = np.empty((n, k), np.int64)
    out_scores = np.empty((n, k), np.float32)
    for start, scores in blocks:
        stop = start + len(scores)
        idx, sc = top_k(
            scores,
            pool,
            exclude=exclude,
            rows=None if exclude is None or rows is None else rows[start:stop],
            allowed=allowed,
        )
        if reranker is not None:
            idx, sc = reranker.rerank(idx, sc, k, model=model)
        out_idx[start:stop] = idx[:, :k]
        out_scores[start:stop] = sc[:, :k]
    return out_idx, out_scores


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
    """Exact top-``k`` items for query vectors (:func:`score_blocks` + :func:`rank_blocks`).

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
    k = check_positive_int(k, "k")
    _check_similarity(similarity)
    batch_size = check_positive_int(batch_size, "batch_size")
    u = _as_tensor(user_vectors, "user_vectors")
    v = _as_tensor(item_vectors, "item_vectors")
    if u.shape[1] != v.shape[1]:
        raise ValueError(f"user_vectors have dimension {u.shape[1]}, item_vectors {v.shape[1]}")
    n = u.shape[0]
    r = np.arange(n, dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)
    if r.shape != (n,):
        raise ValueError(f"rows must have shape ({n},), got {r.shape}")
    blocks = score_blocks(u, v, similarity, batch_size=batch_size)
    return rank_blocks(blocks, n, k, exclude=exclude, rows=r, allowed=allowed)


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
