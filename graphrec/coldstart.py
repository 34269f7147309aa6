"""Cold start without retraining: fold in new users, map content to new items.

New users
    :func:`fold_in_users` turns a few items per user (your own item ids with
    ``ids="raw"``, internal indices with ``ids="index"``) into user vectors and
    :func:`recommend_new_users` ranks items for them. Both only validate and build
    the users' item rows; the model decides how, through its methods
    :meth:`graphrec.Recommender.fold_in` and
    :meth:`graphrec.Recommender.score_new_users` (the default folds into
    ``item_embeddings_``; GraphFilter applies its closed form to the new rows,
    Popularity returns its counts). Ranking goes through the one
    pool -> mask -> top-k -> re-rank path, :func:`graphrec.retrieval.rank_blocks`.

    The default fold-in arithmetic is :func:`fold_in_vectors`: ``"propagation"``
    (one propagation step with the symmetric normalisation 1/sqrt(d_u d_i), which
    approximates LightGCN's layer-mean user embedding from the items' final
    embeddings), ``"ridge"`` (the implicit least-squares fold-in of iALS) or
    ``"mean"``; ``"auto"`` is the model class's ``fold_in_default``.

New items
    :class:`ContentItemMapper` learns a ridge map from content features to item
    embeddings on warm items and applies it to new ones;
    :func:`content_features` builds genre and title-token features.

Side information
    :func:`new_item_vectors`, :func:`new_user_vectors` and
    :func:`recommend_new_users_from` place items known only by features and users
    known only by features or friends, through a hybrid model
    (:class:`graphrec.HybridLightGCN`).

One piece (~660 lines, mostly docstrings): both halves answer one question, what
to do with a user or item the model never saw, and each is small on its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from graphrec._ids import check_ids, door_ids, to_index, to_output
from graphrec.exceptions import ColdStartError
from graphrec.retrieval import rank_blocks
from graphrec.utils import check_positive_float, check_positive_int

__all__ = [
    "FOLD_IN_METHODS",
    "ContentItemMapper",
    "check_fold_in_params",
    "content_features",
    "fold_in_user",
    "fold_in_users",
    "fold_in_vectors",
    "new_item_vectors",
    "new_user_vectors",
    "recommend_new_user",
    "recommend_new_users",
    "recommend_new_users_from",
]

FOLD_IN_METHODS = ("auto", "propagation", "ridge", "mean")


def check_fold_in_params(method: object, alpha: object, regularization: object) -> tuple[str, float, float]:
    """Validated ``(method, alpha, regularization)`` of a fold-in.

    Raises
    ------
    ValueError
        ``alpha`` or ``regularization`` not a finite number >= 0, or an unknown ``method``.
    """
    alpha = check_positive_float(alpha, "alpha", allow_zero=True)
    regularization = check_positive_float(regularization, "regularization", allow_zero=True)
    if method not in FOLD_IN_METHODS:
        raise ValueError(f"method must be one of {FOLD_IN_METHODS}, got {method!r}")
    return str(method), alpha, regularization


def _rows(
    model: Any, item_lists: Sequence[ArrayLike], weights: Sequence[ArrayLike] | None, ids: str
) -> sp.csr_array:
    """The new users' items as a CSR matrix (n_new, n_items).

    Raises
    ------
    ColdStartError
        A new user with no items, or an item listed twice for one user.
    UnknownIdError, IndexError
        An item the model does not know.
    """
    if isinstance(item_lists, (str, bytes)) or not isinstance(item_lists, Sequence):
        raise TypeError("item_lists must be a sequence of item arrays, one per new user")
    if weights is not None and len(weights) != len(item_lists):
        raise ValueError(f"weights has {len(weights)} entries, item_lists {len(item_lists)}")
    cols, vals, lengths = [], [], []
    for j, items in enumerate(item_lists):
        who = "the new user" if len(item_lists) == 1 else f"new user {j}"
        idx = to_index(items, model.items_, "item", ids)
        if idx.size == 0:
            raise ColdStartError(
                f"{who} has no items: cold start needs at least one item the user interacted "
                "with (for a user with none, recommend popular items: graphrec.Popularity)"
            )
        uniq, counts = np.unique(idx, return_counts=True)
        if (counts > 1).any():
            dup = uniq[counts > 1][:3]
            shown = dup.tolist() if ids == "index" else model.items_.to_labels(dup).tolist()
            raise ColdStartError(
                f"{who} lists item{'s' if len(dup) > 1 else ''} {', '.join(map(repr, shown))} more "
                "than once; give each item once (repeated interactions go into weights)"
            )
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
    return sp.csr_array((data, ind, indptr), shape=(len(item_lists), model.n_items_))


def fold_in_vectors(
    item_embeddings: ArrayLike,
    rows: sp.csr_array,
    method: str,
    *,
    item_degree: ArrayLike,
    alpha: float = 10.0,
    regularization: float = 1.0,
) -> NDArray[np.float32]:
    """New users' vectors from their item rows and the item embeddings (the default fold-in).

    Parameters
    ----------
    item_embeddings : ndarray, shape (n_items, embedding_dim)
    rows : csr_array, shape (n_new_users, n_items)
        The new users' items with weights (>= 0).
    method : {"propagation", "ridge", "mean"}
        "propagation": ``sum_i r_ui v_i / sqrt((d_i + 1) d_u)``; "mean": the weighted
        mean of the item vectors; "ridge": ``argmin_x sum_i c_i (p_i - v_i . x)^2 +
        reg |x|^2`` with ``c_i = 1 + alpha * w_ui`` over all items (iALS).
    item_degree : array of int, shape (n_items,)
        Training interactions per item (used by "propagation").
    alpha, regularization : float
        Ridge confidence and L2 weight (relative to the mean diagonal of ``V^T V``).

    Returns
    -------
    ndarray of float32, shape (n_new_users, embedding_dim)

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> rows = sp.csr_array(np.array([[1.0, 0.0, 1.0]]))
    >>> fold_in_vectors(np.eye(3), rows, "mean", item_degree=np.ones(3)).tolist()
    [[0.5, 0.0, 0.5]]
    """
    v = np.asarray(item_embeddings, np.float64)
    if method == "mean":
        out = rows @ v
        out /= np.maximum(rows.sum(axis=1), 1e-12)[:, None]
    elif method == "propagation":
        deg = np.asarray(item_degree, np.float64) + 1.0
        d_u = np.maximum(np.asarray(rows.sum(axis=1)).ravel(), 1e-12)
        out = (rows @ (v / np.sqrt(deg)[:, None])) / np.sqrt(d_u)[:, None]
    elif method == "ridge":
        gram = v.T @ v
        reg = regularization * np.trace(gram) / len(gram)
        out = np.empty((rows.shape[0], v.shape[1]))
        for j in range(rows.shape[0]):
            lo, hi = rows.indptr[j], rows.indptr[j + 1]
            vi, w = v[rows.indices[lo:hi]], rows.data[lo:hi].astype(np.float64)
            a = gram + alpha * (vi.T * w) @ vi + reg * np.eye(len(gram))
            out[j] = np.linalg.solve(a, vi.T @ (1.0 + alpha * w))
    else:
        raise ValueError(f"method must be one of {FOLD_IN_METHODS[1:]}, got {method!r}")
    return np.asarray(out, np.float32)


def fold_in_users(
    model: Any,
    item_lists: Sequence[ArrayLike],
    weights: Sequence[ArrayLike] | None = None,
    *,
    method: str = "auto",
    alpha: float = 10.0,
    regularization: float = 1.0,
    ids: str | None = None,
) -> NDArray[np.float32]:
    """User vectors for new users from their items, without retraining.

    Builds the users' item rows and calls ``model.fold_in`` (see
    :meth:`graphrec.Recommender.fold_in`).

    Parameters
    ----------
    model : fitted Recommender
    item_lists : sequence of arrays
        Each new user's items: your own item ids with ``ids="raw"``, internal indices
        with ``ids="index"``. Each item at most once, at least one per user.
    weights : sequence of arrays, optional
        Interaction weights aligned with ``item_lists`` (default 1).
    method : {"auto", "propagation", "ridge", "mean"}, default "auto"
        "auto": the model class's ``fold_in_default`` ("propagation" for LightGCN,
        else "ridge"). Models with a closed form (GraphFilter) ignore it.
    alpha : float, default 10
        Ridge: extra confidence of the given items over unobserved ones.
    regularization : float, default 1.0
        Ridge: L2 weight relative to the mean diagonal of the item Gram matrix.
    ids : {"raw", "index"}, optional
        How the items are given. Not given: internal indices, with a ``FutureWarning``
        where the model's item ids differ from its indices (the default becomes
        ``"raw"`` in graphrec 0.3.0).

    Returns
    -------
    ndarray of float32, shape (len(item_lists), embedding_dim)

    Raises
    ------
    ValueError
        The model has no embeddings, bad ``method``, ``alpha``, ``regularization``,
        weights or ``ids``.
    graphrec.exceptions.ColdStartError
        A new user with no items, or an item listed twice.
    graphrec.exceptions.UnknownIdError
        ``ids="raw"`` and an item id the model does not know.
    IndexError
        ``ids="index"`` and an item index out of range.
    """
    check_is_fitted(model)
    method, alpha, regularization = check_fold_in_params(method, alpha, regularization)
    rows = _rows(model, item_lists, weights, door_ids(ids, model.items_, "cold-start items"))
    out = model.fold_in(rows, method=method, alpha=alpha, regularization=regularization)
    return np.asarray(out, np.float32).reshape(rows.shape[0], -1)


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
    check_is_fitted(model)
    if kwargs.get("ids") is None:
        kwargs["ids"] = door_ids(None, model.items_, "cold-start items")
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
    ids: str | None = None,
    **fold_in_params: Any,
) -> tuple[NDArray, NDArray[np.float32]]:
    """Top-``k`` items for new users given a few items each, without retraining.

    Scores come from ``model.score_new_users`` (see
    :meth:`graphrec.Recommender.score_new_users`) and are ranked like
    :meth:`graphrec.Recommender.recommend` ranks (:func:`graphrec.retrieval.rank_blocks`).

    Parameters
    ----------
    model : fitted Recommender
    item_lists : sequence of arrays
        Each new user's items (see ``ids``); each item at most once, at least one per user.
    k : int, default 10
    weights : sequence of arrays, optional
    exclude_given : bool, default True
        Do not recommend the items given.
    rerank : str or Reranker, optional
        As in :meth:`Recommender.recommend`.
    method, **fold_in_params
        See :func:`fold_in_users`.
    ids : {"raw", "index"}, optional
        How the items are given and the recommended items named: your own item ids
        (``"raw"``) or internal indices. Not given: indices, with a ``FutureWarning``
        where the model's item ids differ from its indices (the default becomes
        ``"raw"`` in graphrec 0.3.0).

    Returns
    -------
    idx : ndarray, shape (len(item_lists), k)
        Item indices (int64, padded with -1), or with ``ids="raw"`` your item ids
        (padded with None, the array then of object dtype).
    scores : ndarray of float32, shape (len(item_lists), k)
        -inf padded.

    Raises
    ------
    ValueError
        ``k < 1``; see :func:`fold_in_users`.
    graphrec.exceptions.ColdStartError
        A new user with no items, or an item listed twice.
    graphrec.exceptions.UnknownIdError
        ``ids="raw"`` and an item id the model does not know.

    Examples
    --------
    >>> import graphrec as gr
    >>> x = gr.Interactions.from_arrays(["a", "a", "b", "b"], ["tea", "jam", "tea", "jam"])
    >>> m = gr.Popularity().fit(x)
    >>> recommend_new_users(m, [["tea"]], k=1, ids="raw")[0].tolist()
    [['jam']]
    """
    check_is_fitted(model)
    k = check_positive_int(k, "k")
    ids = door_ids(ids, model.items_, "cold-start items")
    rows = _rows(model, item_lists, weights, ids)
    scores = model.score_new_users(rows, method=method, **fold_in_params)
    reranker = None
    if rerank is not None:
        from graphrec.rerank import get_reranker

        reranker = get_reranker(rerank)
    idx, out = rank_blocks(
        [(0, scores)],
        rows.shape[0],
        k,
        exclude=rows if exclude_given else None,
        reranker=reranker,
        model=model,
    )
    return to_output(idx, model.items_, ids), out


def recommend_new_user(
    model: Any, items: ArrayLike, k: int = 10, *, weights: ArrayLike | None = None, **kwargs: Any
) -> tuple[NDArray, NDArray[np.float32]]:
    """Top-``k`` items for one new user (see :func:`recommend_new_users`, also for ``ids``).

    Returns
    -------
    idx : ndarray, shape (k,)
        Item indices, or your item ids with ``ids="raw"``.
    scores : ndarray of float32, shape (k,)

    Raises
    ------
    graphrec.exceptions.ColdStartError
        ``items`` is empty or lists an item twice.
    graphrec.exceptions.UnknownIdError
        ``ids="raw"`` and an item id the model does not know.
    """
    check_is_fitted(model)
    if kwargs.get("ids") is None:
        kwargs["ids"] = door_ids(None, model.items_, "cold-start items")
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
        self, features: Any, item_embeddings: ArrayLike
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

        alpha = check_positive_float(self.alpha, "alpha", allow_zero=True)
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

    def transform(self, features: Any) -> NDArray[np.float32]:
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


# ---------------------------------------------------------------------- side information
# New items and users described by features and links (graphrec.HybridLightGCN and the
# other hybrid models); the arithmetic is the model's (embed_new_items / embed_new_users).


def _index_rows(lists: Sequence[ArrayLike], idmap: Any, name: str, ids: str = "index") -> sp.csr_array:
    """Id lists (one per new node) as a 0/1 CSR matrix (len(lists), len(idmap)); duplicates merged."""
    if isinstance(lists, (str, bytes)) or not isinstance(lists, Sequence):
        raise TypeError(f"{name} must be a sequence of id arrays, one per new user/item")
    role = "user" if name == "friends" else "item"
    idx = [to_index(v, idmap, role, check_ids(ids), name) for v in lists]
    n = len(idmap)
    indptr = np.concatenate([[0], np.cumsum([len(v) for v in idx])]).astype(np.int64)
    ind = np.concatenate(idx) if idx else np.empty(0, np.int64)
    m = sp.csr_array((np.ones(len(ind), np.float32), ind, indptr), shape=(len(idx), n))
    m.sum_duplicates()
    m.data[:] = 1.0
    return m


def _side_model(model: Any, method: str) -> Any:
    check_is_fitted(model)
    if not hasattr(model, method):
        raise TypeError(
            f"{type(model).__name__} cannot place new users/items from features or links; "
            "fit a hybrid model (graphrec.HybridLightGCN, HybridMF, ContentBased) or use "
            "ContentItemMapper for items"
        )
    return getattr(model, method)


def new_item_vectors(
    model: Any, features: Any, *, related: Sequence[ArrayLike] | None = None, ids: str = "index"
) -> NDArray[np.float32]:
    """Embeddings of new items from their features (and related known items), no retraining.

    Parameters
    ----------
    model : fitted hybrid model
    features : array or sparse, shape (n_new, n_item_features)
        In the columns of the Features the model was fitted with.
    related : sequence of arrays, optional
        Per new item, known items it is linked to ("item-item" edges).
    ids : {"index", "raw"}, default "index"
        ``related`` as internal indices or as your own item ids.

    Returns
    -------
    ndarray of float32, shape (n_new, embedding_dim)

    Raises
    ------
    TypeError
        The model does not take side information.
    graphrec.FeatureError
        Features in the wrong shape or with bad values.
    """
    embed = _side_model(model, "embed_new_items")
    rel = None if related is None else _index_rows(related, model.items_, "related", ids)
    return embed(features, related=rel)


def new_user_vectors(
    model: Any,
    *,
    items: Sequence[ArrayLike] | None = None,
    friends: Sequence[ArrayLike] | None = None,
    features: Any = None,
    ids: str = "index",
) -> NDArray[np.float32]:
    """Embeddings of new users from any of their items, friends and features, no retraining.

    Parameters
    ----------
    model : fitted hybrid model
    items : sequence of arrays of int, optional
        Per new user, the items they interacted with.
    friends : sequence of arrays of int, optional
        Per new user, known users they are linked to ("user-user" edges).
    features : array or sparse, shape (n_new, n_user_features), optional
    ids : {"index", "raw"}, default "index"
        ``items`` and ``friends`` as internal indices or as your own ids.

    Returns
    -------
    ndarray of float32, shape (n_new, embedding_dim)

    Raises
    ------
    TypeError
        The model does not take side information.
    ValueError
        Nothing given, or the parts disagree on the number of new users.
    graphrec.exceptions.UnknownIdError
        ``ids="raw"`` and an id the model does not know.
    """
    embed = _side_model(model, "embed_new_users")
    rows_i = None if items is None else _index_rows(items, model.items_, "items", ids)
    rows_f = None if friends is None else _index_rows(friends, model.users_, "friends", ids)
    sizes = {m.shape[0] for m in (rows_i, rows_f, features) if m is not None}
    if len(sizes) > 1:
        raise ValueError(f"items, friends and features describe different numbers of users: {sorted(sizes)}")
    return embed(features=features, friends=rows_f, items=rows_i)


def recommend_new_users_from(
    model: Any,
    k: int = 10,
    *,
    items: Sequence[ArrayLike] | None = None,
    friends: Sequence[ArrayLike] | None = None,
    features: Any = None,
    exclude_given: bool = True,
    rerank: Any = None,
    ids: str = "index",
) -> tuple[NDArray, NDArray[np.float32]]:
    """Top-``k`` items for new users known by items, friends and/or features.

    Vectors from :func:`new_user_vectors`, scored with the model's similarity and
    ranked by :func:`graphrec.retrieval.rank_blocks` (as every other door ranks).
    ``ids`` ("index" or "raw") says how ``items`` and ``friends`` are given and the
    recommended items named.

    Returns
    -------
    idx : ndarray, shape (n_new, k)
        Item indices (padded with -1), or your item ids with ``ids="raw"``.
    scores : ndarray of float32, shape (n_new, k)

    Examples
    --------
    >>> import graphrec as gr
    >>> x = gr.Interactions.from_arrays([0, 1, 2, 2], [0, 1, 1, 2], n_users=3, n_items=3)
    >>> f = gr.Features.from_interactions(x).add_relations("user", [[0, 1]])
    >>> m = gr.HybridLightGCN(embedding_dim=4, epochs=2, batch_size=4, random_state=0).fit(x, features=f)
    >>> recommend_new_users_from(m, 2, friends=[[2]])[0].shape
    (1, 2)
    """
    import torch

    from graphrec.retrieval import embedding_scores

    k = check_positive_int(k, "k")
    u = new_user_vectors(model, items=items, friends=friends, features=features, ids=ids)
    v = torch.from_numpy(np.asarray(model.item_embeddings_, np.float32))
    scores = embedding_scores(torch.from_numpy(u), v, model._default_similarity()).numpy()
    exclude = _index_rows(items, model.items_, "items", ids) if (items is not None and exclude_given) else None
    reranker = None
    if rerank is not None:
        from graphrec.rerank import get_reranker

        reranker = get_reranker(rerank)
    idx, out = rank_blocks([(0, scores)], len(u), k, exclude=exclude, reranker=reranker, model=model)
    return to_output(idx, model.items_, check_ids(ids)), out
