"""Approximate top-k by inner product with FAISS (optional extra ``graphrec[ann]``).

:class:`AnnIndex` wraps an exact (``IndexFlatIP``) or HNSW (``IndexHNSWFlat``
with inner-product metric) FAISS index over item embeddings behind the same
interface as :func:`graphrec.retrieval.top_k_embeddings`: ``search`` returns
``(idx, scores)`` of shape ``(n, k)``, best first, -1 / -inf padded, with
per-user excluded items (e.g. seen items) removed by over-fetching. faiss is
imported lazily, so graphrec works without it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray
from sklearn.utils.validation import check_is_fitted

from graphrec.utils import as_index_array, check_positive_int

__all__ = ["KINDS", "AnnIndex", "ann_recommend", "faiss_available"]

KINDS = ("flat", "hnsw")


def faiss_available() -> bool:
    """Whether the optional dependency ``faiss`` can be imported."""
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


def _faiss() -> Any:
    try:
        import faiss
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "graphrec.ann needs faiss: pip install 'graphrec[ann]' (or faiss-cpu)"
        ) from exc
    return faiss


def _as_matrix(vectors: ArrayLike, name: str, normalise: bool) -> NDArray[np.float32]:
    x = np.array(vectors, dtype=np.float32, order="C", copy=True)
    if x.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n, embedding_dim), got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    if normalise:
        norms = np.linalg.norm(x, axis=1, keepdims=True)
        x /= np.where(norms > 0, norms, 1.0)
    return x


class AnnIndex:
    """Inner-product index over item embeddings (FAISS).

    Parameters
    ----------
    item_embeddings : ndarray, shape (n_items, embedding_dim)
    kind : {"flat", "hnsw"}, default "hnsw"
        "flat": exact ``IndexFlatIP``; "hnsw": graph index ``IndexHNSWFlat``.
    similarity : {"dot", "cosine"}, default "dot"
        "cosine" L2-normalises items and queries.
    m : int, default 32
        HNSW neighbours per node.
    ef_construction : int, default 200
        HNSW build-time beam width.
    ef_search : int, default 128
        HNSW query-time beam width (raised to the number of results fetched).

    Attributes
    ----------
    n_items, embedding_dim : int
    index : faiss.Index

    Raises
    ------
    ValueError
        Bad ``kind``, ``similarity`` or sizes; non-finite embeddings.
    ImportError
        faiss is not installed.

    Examples
    --------
    >>> import numpy as np
    >>> index = AnnIndex(np.eye(3, dtype=np.float32), kind="flat")  # doctest: +SKIP
    >>> index.search(np.array([[0.0, 2.0, 1.0]]), 2)[0].tolist()  # doctest: +SKIP
    [[1, 2]]
    """

    def __init__(
        self,
        item_embeddings: ArrayLike,
        *,
        kind: str = "hnsw",
        similarity: str = "dot",
        m: int = 32,
        ef_construction: int = 200,
        ef_search: int = 128,
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        if similarity not in ("dot", "cosine"):
            raise ValueError(f"similarity must be 'dot' or 'cosine', got {similarity!r}")
        self.kind = kind
        self.similarity = similarity
        self.m = check_positive_int(m, "m", minimum=2)
        self.ef_construction = check_positive_int(ef_construction, "ef_construction")
        self.ef_search = check_positive_int(ef_search, "ef_search")
        faiss = _faiss()
        items = _as_matrix(item_embeddings, "item_embeddings", similarity == "cosine")
        if len(items) == 0:
            raise ValueError("item_embeddings is empty")
        self.n_items, self.embedding_dim = items.shape
        if kind == "flat":
            self.index = faiss.IndexFlatIP(self.embedding_dim)
        else:
            self.index = faiss.IndexHNSWFlat(self.embedding_dim, self.m, faiss.METRIC_INNER_PRODUCT)
            self.index.hnsw.efConstruction = self.ef_construction
        self.index.add(items)

    def __repr__(self) -> str:
        return (
            f"AnnIndex(n_items={self.n_items}, kind={self.kind!r}, similarity={self.similarity!r})"
        )

    def _raw_search(self, q: NDArray[np.float32], fetch: int) -> tuple[NDArray, NDArray]:
        if self.kind == "hnsw":
            self.index.hnsw.efSearch = max(self.ef_search, fetch)
        scores, idx = self.index.search(q, fetch)
        return idx.astype(np.int64), scores.astype(np.float32)

    def search(
        self,
        user_vectors: ArrayLike,
        k: int,
        *,
        exclude: sp.csr_array | None = None,
        rows: ArrayLike | None = None,
        batch_size: int = 4096,
    ) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        """Top-``k`` items per query vector, excluded items removed.

        Parameters
        ----------
        user_vectors : ndarray, shape (n, embedding_dim)
        k : int
        exclude : csr_array, optional
            Items to remove per row (e.g. ``model.seen_``); row ``rows[j]`` applies
            to query ``j``. Each batch fetches ``k`` plus its largest excluded count.
        rows : array of int, optional
            Rows of ``exclude`` (default ``0..n-1``).
        batch_size : int, default 4096

        Returns
        -------
        idx : ndarray of int64, shape (n, k)
            -1 padded.
        scores : ndarray of float32, shape (n, k)
            -inf padded.

        Raises
        ------
        ValueError
            ``k < 1``, a dimension mismatch, bad ``rows``.
        """
        k = check_positive_int(k, "k")
        batch_size = check_positive_int(batch_size, "batch_size")
        q = _as_matrix(user_vectors, "user_vectors", self.similarity == "cosine")
        if q.shape[1] != self.embedding_dim:
            raise ValueError(
                f"user_vectors have dimension {q.shape[1]}, the index {self.embedding_dim}"
            )
        n = len(q)
        out_idx = np.full((n, k), -1, np.int64)
        out_sc = np.full((n, k), -np.inf, np.float32)
        order, n_excl = np.arange(n), np.zeros(n, np.int64)
        if exclude is not None:
            r = np.arange(n, dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)
            if r.shape != (n,):
                raise ValueError(f"rows must have shape ({n},), got {r.shape}")
            if exclude.shape[1] != self.n_items:
                raise ValueError(
                    f"exclude has {exclude.shape[1]} columns, the index {self.n_items} items"
                )
            n_excl = np.diff(exclude.indptr)[r]
            order = np.argsort(n_excl, kind="stable")
        # users grouped by fetch size k + |excluded| rounded up to a power of two, so a
        # few heavy users do not make everyone fetch (and HNSW explore) a long list
        need = np.minimum(self.n_items, k + n_excl[order])
        bucket = np.ceil(np.log2(np.maximum(need, 1))).astype(np.int64)
        bounds = np.flatnonzero(np.diff(bucket)) + 1
        for group in np.split(order, bounds):
            if len(group) == 0:
                continue
            for start in range(0, len(group), batch_size):
                sel = group[start : start + batch_size]
                fetch = min(self.n_items, k + int(n_excl[sel].max(initial=0)))
                idx, sc = self._raw_search(q[sel], fetch)
                idx[sc <= -1e38] = -1  # faiss pads missing results with -FLT_MAX
                if exclude is not None:
                    idx[_member(idx, exclude[r[sel]])] = -1
                # stable compaction: valid results first, in score order
                pos = np.argsort(idx < 0, axis=1, kind="stable")[:, :k]
                rows_ = np.arange(len(sel))[:, None]
                ci, cs = idx[rows_, pos], sc[rows_, pos]
                width = ci.shape[1]
                out_idx[sel, :width] = ci
                out_sc[sel, :width] = np.where(ci >= 0, cs, -np.inf)
        return out_idx, out_sc


def _member(idx: NDArray[np.int64], matrix: sp.csr_array) -> NDArray[np.bool_]:
    """``hit[j, c]``: whether item ``idx[j, c]`` is stored in row ``j`` of ``matrix``."""
    matrix = sp.csr_array(matrix)
    n = idx.shape[0]
    span = max(matrix.shape[1], 1)
    counts = np.diff(matrix.indptr)
    keys = np.sort(np.repeat(np.arange(n, dtype=np.int64), counts) * span + matrix.indices)
    query = np.arange(n, dtype=np.int64)[:, None] * span + idx
    if len(keys) == 0:
        return np.zeros(idx.shape, bool)
    pos = np.searchsorted(keys, query).clip(max=len(keys) - 1)
    return (keys[pos] == query) & (idx >= 0)


def ann_recommend(
    model: Any,
    users: ArrayLike,
    k: int = 10,
    *,
    index: AnnIndex | None = None,
    kind: str = "hnsw",
    exclude_seen: bool = True,
    **index_params: Any,
) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    """``model.recommend`` served from an ANN index over the model's item embeddings.

    Parameters
    ----------
    model : fitted EmbeddingRecommender
    users : array of int
        Internal user indices.
    k : int, default 10
    index : AnnIndex, optional
        Built once and reused; default: a new index of ``kind`` (slow to build,
        so pass one for repeated calls).
    kind : {"flat", "hnsw"}, default "hnsw"
    exclude_seen : bool, default True
    **index_params
        Passed to :class:`AnnIndex` when it is built here.

    Returns
    -------
    idx, scores : ndarrays of shape (len(users), k), -1 / -inf padded.

    Raises
    ------
    ValueError
        The model has no embeddings, or the index does not match its items.
    """
    check_is_fitted(model)
    users = as_index_array(users, model.n_users_, "users")
    u = getattr(model, "user_embeddings_", None)
    v = getattr(model, "item_embeddings_", None)
    if u is None or v is None:
        raise ValueError(f"{type(model).__name__} has no user/item embeddings for ANN retrieval")
    similarity = model._default_similarity()
    if index is None:
        index = AnnIndex(v, kind=kind, similarity=similarity, **index_params)
    if index.n_items != model.n_items_:
        raise ValueError(f"index has {index.n_items} items, the model {model.n_items_}")
    return index.search(u[users], k, exclude=model.seen_ if exclude_seen else None, rows=users)
