"""Cold start without retraining: fold in new users, map content to new items.

New users
    :func:`fold_in_user` turns a few item ids into a user vector in the model's
    embedding space; :func:`recommend_new_users` scores and ranks for it. The
    model decides how, by duck typing, in this order:

    1. ``model._score_new_users(rows)`` (rows: csr_array of the new users'
       items): models whose scores are not a dot product; a model with an
       ``item_filter_`` (GraphFilter, GF-CF) gets its closed form applied to the
       new row directly: ``r F + alpha * (r Di^-1/2 V) (Di^1/2 V)^T``;
    2. ``model._fold_in(items, weights) -> vector``: a model-specific fold-in;
    3. ``item_popularity_`` and no embeddings (Popularity): the popular items;
    4. otherwise the generic fold-in on ``item_embeddings_``: ``"propagation"``
       (models with ``n_layers``, e.g. LightGCN: one propagation step with the
       symmetric normalisation 1/sqrt(d_u d_i), which approximates the
       layer-mean user embedding from the items' final embeddings) or
       ``"ridge"`` (MF, DeepWalk: the implicit least-squares fold-in of iALS).

New items
    :class:`ContentItemMapper` learns a ridge map from content features to item
    embeddings on warm items and applies it to new ones;
    :func:`content_features` builds genre and title-token features.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from graphrec.retrieval import embedding_scores, top_k

__all__ = [
    "FOLD_IN_METHODS",
    "ContentItemMapper",
    "content_features",
    "fold_in_user",
    "fold_in_users",
    "recommend_new_user",
    "recommend_new_users",
]

FOLD_IN_METHODS = ("auto", "propagation", "ridge", "mean")


def _check_nonneg(value: object, name: str) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isfinite(value)
    if not ok or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def _rows(
    model: Any, item_lists: Sequence[ArrayLike], weights: Sequence[ArrayLike] | None
) -> sp.csr_array:
    """The new users' items as a CSR matrix (n_new, n_items); duplicates summed."""
    if isinstance(item_lists, (str, bytes)) or not isinstance(item_lists, Sequence):
        raise TypeError("item_lists must be a sequence of item-index arrays, one per new user")
    if weights is not None and len(weights) != len(item_lists):
        raise ValueError(f"weights has {len(weights)} entries, item_lists {len(item_lists)}")
    from graphrec.utils import as_index_array

    cols, vals, lengths = [], [], []
    for j, items in enumerate(item_lists):
        idx = as_index_array(items, model.n_items_, "items")
        if weights is None:
            w = np.ones(len(idx), np.float32)
        else:
            w = np.asarray(weights[j], np.float32).ravel()
            if w.shape != idx.shape:
                raise ValueError(f"weights[{j}] has {w.size} values for {idx.size} items")
            if not np.isfinite(w).all() or (w < 0).any():
                raise ValueError(f"weights[{j}] must be finite and >= 0")
        cols.append(idx)
        vals.append(w)
        lengths.append(len(idx))
    indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    data = np.concatenate(vals) if vals else np.empty(0, np.float32)
    ind = np.concatenate(cols) if cols else np.empty(0, np.int64)
    m = sp.csr_array((data, ind, indptr), shape=(len(item_lists), model.n_items_))
    m.sum_duplicates()
    return m


def _resolve_method(model: Any, method: str) -> str:
    if method not in FOLD_IN_METHODS:
        raise ValueError(f"method must be one of {FOLD_IN_METHODS}, got {method!r}")
    if method == "auto":
        return "propagation" if hasattr(model, "n_layers") else "ridge"
    return method


def _generic_fold_in(
    model: Any, rows: sp.csr_array, method: str, alpha: float, regularization: float
) -> NDArray[np.float32]:
    v = getattr(model, "item_embeddings_", None)
    if v is None:
        raise ValueError(f"model {type(model).__name__} has no item_embeddings_ to fold users into")
    v = np.asarray(v, np.float64)
    if method == "mean":
        out = rows @ v
        out /= np.maximum(rows.sum(axis=1), 1e-12)[:, None]
    elif method == "propagation":
        deg = np.bincount(model.seen_.indices, minlength=model.n_items_).astype(np.float64) + 1.0
        d_u = np.maximum(np.asarray(rows.sum(axis=1)).ravel(), 1e-12)
        out = (rows @ (v / np.sqrt(deg)[:, None])) / np.sqrt(d_u)[:, None]
    else:  # ridge: min sum_i c_i (p_i - v_i . x)^2 + reg * |x|^2, c_i = 1 + alpha * w_ui
        gram = v.T @ v
        reg = regularization * np.trace(gram) / len(gram)
        out = np.empty((rows.shape[0], v.shape[1]))
        for j in range(rows.shape[0]):
            lo, hi = rows.indptr[j], rows.indptr[j + 1]
            vi, w = v[rows.indices[lo:hi]], rows.data[lo:hi].astype(np.float64)
            a = gram + alpha * (vi.T * w) @ vi + reg * np.eye(len(gram))
            out[j] = np.linalg.solve(a, vi.T @ (1.0 + alpha * w))
    return out.astype(np.float32)


def _is_graph_filter(model: Any) -> bool:
    return hasattr(model, "item_filter_") and hasattr(model, "alpha")


def _graph_filter_vectors(model: Any, rows: sp.csr_array) -> NDArray[np.float32]:
    """GF-CF's low-rank user vector ``r Di^-1/2 V`` (``item_embeddings_ = Di^1/2 V``)."""
    deg = np.bincount(model.seen_.indices, minlength=model.n_items_).astype(np.float64)
    scale = np.divide(1.0, deg, out=np.zeros_like(deg), where=deg > 0)
    binary = sp.csr_array(
        (np.ones(rows.nnz, np.float32), rows.indices, rows.indptr), shape=rows.shape
    )
    return np.asarray(
        binary @ (np.asarray(model.item_embeddings_, np.float64) * scale[:, None]), np.float32
    )


def _graph_filter_scores(model: Any, rows: sp.csr_array) -> torch.Tensor:
    binary = sp.csr_array(
        (np.ones(rows.nnz, np.float32), rows.indices, rows.indptr), shape=rows.shape
    )
    out = np.asarray((binary @ model.item_filter_).toarray(), np.float32)
    if model.item_embeddings_.shape[1] and model.alpha:
        out += float(model.alpha) * (_graph_filter_vectors(model, rows) @ model.item_embeddings_.T)
    return torch.from_numpy(out)


def fold_in_users(
    model: Any,
    item_lists: Sequence[ArrayLike],
    weights: Sequence[ArrayLike] | None = None,
    *,
    method: str = "auto",
    alpha: float = 10.0,
    regularization: float = 1.0,
) -> NDArray[np.float32]:
    """User vectors for new users from their items, without retraining.

    Parameters
    ----------
    model : fitted EmbeddingRecommender
    item_lists : sequence of arrays of int
        Each new user's items (internal indices).
    weights : sequence of arrays, optional
        Interaction weights aligned with ``item_lists`` (default 1).
    method : {"auto", "propagation", "ridge", "mean"}, default "auto"
        Used when the model has no ``_fold_in``. "auto": "propagation" for
        graph models (with ``n_layers``), else "ridge".
    alpha : float, default 10
        Ridge: extra confidence of the given items over unobserved ones.
    regularization : float, default 1.0
        Ridge: L2 weight relative to the mean diagonal of the item Gram matrix.

    Returns
    -------
    ndarray of float32, shape (len(item_lists), embedding_dim)

    Raises
    ------
    ValueError
        The model has no embeddings, bad ``method``, ``alpha``, ``regularization``
        or weights.
    IndexError
        An item index out of range.
    """
    check_is_fitted(model)
    alpha = _check_nonneg(alpha, "alpha")
    regularization = _check_nonneg(regularization, "regularization")
    method = _resolve_method(model, method)
    if hasattr(model, "_fold_in"):
        rows = _rows(model, item_lists, weights)
        out = [
            model._fold_in(
                rows.indices[rows.indptr[j] : rows.indptr[j + 1]],
                rows.data[rows.indptr[j] : rows.indptr[j + 1]],
            )
            for j in range(rows.shape[0])
        ]
        return np.asarray(out, np.float32).reshape(rows.shape[0], -1)
    if _is_graph_filter(model):
        return _graph_filter_vectors(model, _rows(model, item_lists, weights))
    return _generic_fold_in(model, _rows(model, item_lists, weights), method, alpha, regularization)


def fold_in_user(
    model: Any, items: ArrayLike, weights: ArrayLike | None = None, **kwargs: Any
) -> NDArray[np.float32]:
    """The vector of one new user (see :func:`fold_in_users` for the keywords).

    Returns
    -------
    ndarray of float32, shape (embedding_dim,)

    Examples
    --------
    >>> import numpy as np, graphrec as gr
    >>> from graphrec.models.base import EmbeddingRecommender
    >>> class Fixed(EmbeddingRecommender):
    ...     def _fit(self, train, valid):
    ...         self.user_embeddings_ = np.eye(2, 3, dtype=np.float32)
    ...         self.item_embeddings_ = np.eye(3, dtype=np.float32)
    >>> m = Fixed().fit(gr.Interactions.from_arrays([0, 1], [0, 1], n_users=2, n_items=3))
    >>> fold_in_user(m, [2], method="mean").tolist()
    [0.0, 0.0, 1.0]
    """
    return fold_in_users(model, [items], None if weights is None else [weights], **kwargs)[0]


def recommend_new_users(
    model: Any,
    item_lists: Sequence[ArrayLike],
    k: int = 10,
    *,
    weights: Sequence[ArrayLike] | None = None,
    exclude_given: bool = True,
    rerank: Any = None,
    method: str = "auto",
    **fold_in_params: Any,
) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    """Top-``k`` items for new users given a few items each, without retraining.

    Parameters
    ----------
    model : fitted Recommender
    item_lists : sequence of arrays of int
        Each new user's items (internal indices).
    k : int, default 10
    weights : sequence of arrays, optional
    exclude_given : bool, default True
        Do not recommend the items given.
    rerank : str or Reranker, optional
        As in :meth:`Recommender.recommend`.
    method, **fold_in_params
        See :func:`fold_in_users`.

    Returns
    -------
    idx : ndarray of int64, shape (len(item_lists), k)
    scores : ndarray of float32, shape (len(item_lists), k)
        -1 / -inf padded.

    Raises
    ------
    ValueError
        ``k < 1``; see :func:`fold_in_users`.
    """
    check_is_fitted(model)
    from graphrec.utils import check_positive_int

    k = check_positive_int(k, "k")
    rows = _rows(model, item_lists, weights)
    if hasattr(model, "_score_new_users"):
        scores = torch.as_tensor(model._score_new_users(rows)).float()
    elif _is_graph_filter(model):
        scores = _graph_filter_scores(model, rows)
    elif getattr(model, "item_embeddings_", None) is None and hasattr(model, "item_popularity_"):
        scores = torch.from_numpy(np.asarray(model.item_popularity_, np.float32)).repeat(
            rows.shape[0], 1
        )
    else:
        u = fold_in_users(model, item_lists, weights, method=method, **fold_in_params)
        sim = getattr(model, "_default_similarity", lambda: "dot")()
        v = torch.from_numpy(np.asarray(model.item_embeddings_, np.float32))
        scores = embedding_scores(torch.from_numpy(u), v, sim)
    pool, reranker = k, None
    if rerank is not None:
        from graphrec.rerank import get_reranker

        reranker = get_reranker(rerank)
        pool = reranker.pool_size(k)
    idx, sc = top_k(scores, pool, exclude=rows if exclude_given else None)
    if reranker is not None:
        idx, sc = reranker.rerank(idx, sc, k, model=model)
    return idx[:, :k], sc[:, :k]


def recommend_new_user(
    model: Any, items: ArrayLike, k: int = 10, *, weights: ArrayLike | None = None, **kwargs: Any
) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    """Top-``k`` items for one new user (see :func:`recommend_new_users`).

    Returns
    -------
    idx : ndarray of int64, shape (k,)
    scores : ndarray of float32, shape (k,)
    """
    idx, sc = recommend_new_users(
        model, [items], k, weights=None if weights is None else [weights], **kwargs
    )
    return idx[0], sc[0]


class ContentItemMapper(BaseEstimator):
    """Ridge map from item content features to item embeddings, for new items.

    Parameters
    ----------
    alpha : float, default 1.0
        Ridge regularisation (scikit-learn ``Ridge``).
    fit_intercept : bool, default True

    Attributes
    ----------
    coef_ : ndarray of float32, shape (embedding_dim, n_features)
    intercept_ : ndarray of float32, shape (embedding_dim,)

    Examples
    --------
    >>> import numpy as np
    >>> f = np.eye(4)
    >>> e = np.arange(8, dtype=np.float32).reshape(4, 2)
    >>> ContentItemMapper(alpha=1e-6).fit(f, e).transform(f[:1]).round(3).tolist()
    [[0.0, 1.0]]
    """

    def __init__(self, *, alpha: float = 1.0, fit_intercept: bool = True) -> None:
        self.alpha = alpha
        self.fit_intercept = fit_intercept

    def fit(
        self, features: ArrayLike | sp.sparray, item_embeddings: ArrayLike
    ) -> ContentItemMapper:
        """Learn the map on warm items.

        Parameters
        ----------
        features : ndarray or sparse, shape (n_warm, n_features)
        item_embeddings : ndarray, shape (n_warm, embedding_dim)

        Returns
        -------
        self

        Raises
        ------
        ValueError
            Mismatched row counts, bad ``alpha``, non-finite embeddings.
        """
        from sklearn.linear_model import Ridge

        alpha = _check_nonneg(self.alpha, "alpha")
        y = np.asarray(item_embeddings, np.float64)
        if y.ndim != 2 or not np.isfinite(y).all():
            raise ValueError("item_embeddings must be a finite 2-D array (n_items, embedding_dim)")
        if features.shape[0] != len(y):
            raise ValueError(f"features has {features.shape[0]} rows, item_embeddings {len(y)}")
        ridge = Ridge(alpha=alpha, fit_intercept=bool(self.fit_intercept)).fit(features, y)
        self.coef_ = np.asarray(ridge.coef_, np.float32).reshape(y.shape[1], -1)
        self.intercept_ = np.broadcast_to(
            np.asarray(ridge.intercept_, np.float32), (y.shape[1],)
        ).copy()
        return self

    def transform(self, features: ArrayLike | sp.sparray) -> NDArray[np.float32]:
        """Embeddings of (new) items from their features.

        Returns
        -------
        ndarray of float32, shape (n_items, embedding_dim)
        """
        check_is_fitted(self)
        if features.shape[1] != self.coef_.shape[1]:
            raise ValueError(
                f"features has {features.shape[1]} columns, fit saw {self.coef_.shape[1]}"
            )
        out = features @ self.coef_.T.astype(np.float64) + self.intercept_
        return np.asarray(out, np.float32)


def content_features(
    item_info: pd.DataFrame,
    *,
    genres: str | None = "genres",
    title: str | None = "title",
    min_df: int = 2,
) -> sp.csr_array:
    """Content features per item: multi-hot genres ("|"-separated) and title tokens.

    Title tokens (words and years) are binary counts of tokens found in at least
    ``min_df`` titles, each row L2-normalised; genres are one-hot.

    Parameters
    ----------
    item_info : DataFrame
        One row per item, in internal index order (e.g. ``Dataset.item_info``).
    genres, title : str or None
        Column names; None skips the part.
    min_df : int, default 2

    Returns
    -------
    csr_array of float32, shape (n_items, n_features)

    Raises
    ------
    ValueError
        A named column is missing, or no part is selected.
    """
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.preprocessing import normalize

    parts = []
    for col in (genres, title):
        if col is not None and col not in item_info.columns:
            raise ValueError(f"item_info has no column {col!r}")
    if genres is not None:
        g = item_info[genres].fillna("").astype(str)
        cv = CountVectorizer(
            tokenizer=lambda s: [t for t in s.split("|") if t],
            lowercase=False,
            token_pattern=None,
            binary=True,
        )
        parts.append(cv.fit_transform(g))
    if title is not None:
        t = item_info[title].fillna("").astype(str)
        cv = CountVectorizer(binary=True, min_df=min_df)
        parts.append(normalize(cv.fit_transform(t).astype(np.float32)))
    if not parts:
        raise ValueError("select at least one of genres and title")
    return sp.csr_array(sp.hstack(parts).astype(np.float32))
