"""The contract every recommender shares: fit, score, recommend, cold start, save.

Subclasses implement ``_fit(train, valid)`` and ``_score(users, similarity)``;
everything else (validation, seen-item exclusion, batching, the label-level door,
persistence) lives here once. Model-specific behaviour is a method with a default
that suits embedding models, overridden where a model knows better:

* :meth:`Recommender.fold_in` / :meth:`Recommender.score_new_users` (cold start;
  :class:`graphrec.GraphFilter` applies its closed form, Popularity its counts),
  with the class attribute ``fold_in_default`` naming what ``method="auto"`` does;
* :meth:`Recommender.explain_weighting` (which walk weighting explains the model).

The scoring, ranking and storage machinery lives in :mod:`graphrec.retrieval`
(``score_blocks``, ``rank_blocks``, ``similar``), :mod:`graphrec.coldstart`
(the fold-in arithmetic) and :mod:`graphrec.persistence`; this module only wires it.
It stays one piece (~590 lines, mostly docstrings) because it is one class's contract:
every model subclasses :class:`Recommender`, and splitting its methods across
modules would scatter the contract a new model has to read.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from graphrec._ids import check_ids, to_index, to_output
from graphrec.data.ids import IdMap
from graphrec.data.interactions import Interactions
from graphrec.persistence import ModelState, decode_attributes, encode_state, write_state
from graphrec.retrieval import (
    MAX_BLOCK_BYTES,
    SIMILARITIES,
    embedding_scores,
    rank_blocks,
    rows_per_block,
    score_blocks,
    similar,
)
from graphrec.utils import check_positive_int, resolve_device

__all__ = ["EmbeddingRecommender", "Recommender"]


class Recommender(BaseEstimator):
    """Base class of all graphrec models (scikit-learn estimator conventions).

    Attributes
    ----------
    seen_ : scipy.sparse.csr_array, shape (n_users, n_items)
        Training interactions, used to exclude seen items.
    users_, items_ : IdMap
        Label maps of the training data.
    n_users_, n_items_ : int
    """

    #: how many users are scored per batch in recommend/evaluate
    _batch_size: int = 2048

    #: bound on one block of scores in recommend/evaluate (fewer users per block beyond it)
    _max_block_bytes: int = MAX_BLOCK_BYTES

    #: what :meth:`fold_in` does for ``method="auto"``: "propagation" for models whose
    #: user vectors are propagated over the graph (LightGCN), else "ridge"
    fold_in_default: ClassVar[str] = "ridge"

    @classmethod
    def search_space(cls) -> dict[str, Any]:
        """The default hyperparameter search space of this model, for :func:`graphrec.tune`.

        Kept for every model in one table, :data:`graphrec.tuning.spaces.DEFAULT_SPACES`
        (keyed by class name); a subclass without an entry may override this method.

        Returns
        -------
        dict
            ``{name: Float | Int | Categorical | [values]}`` (a fresh copy).

        Raises
        ------
        KeyError
            The class has no default space.

        Examples
        --------
        >>> import graphrec as gr
        >>> sorted(gr.GraphFilter.search_space())
        ['alpha', 'n_components']
        """
        from graphrec.tuning.spaces import default_space

        return default_space(cls.__name__)

    # ------------------------------------------------------------------ fitting
    def fit(self, train: Interactions, valid: Interactions | None = None) -> Recommender:
        """Fit on ``train`` (refits from scratch).

        Parameters
        ----------
        train : Interactions
        valid : Interactions, optional
            Held-out interactions on the same IdMaps, for models that early-stop.

        Returns
        -------
        self

        Raises
        ------
        TypeError
            ``train`` is not an :class:`Interactions`.
        ValueError
            Empty training data, bad hyperparameters, or ``valid`` on other IdMaps.
        """
        self._begin_fit(train, valid)
        try:
            self._fit(train, valid)
        except BaseException:
            self._clear_fitted()
            raise
        return self

    def _begin_fit(self, train: Interactions, valid: Interactions | None) -> None:
        """Everything :meth:`fit` does before ``_fit``: check inputs and hyperparameters,
        forget any earlier fit, and record the training data's id maps and seen items.

        Data-parallel training (:mod:`graphrec.distributed`) calls this too, so both
        paths validate and reset alike.
        """
        if not isinstance(train, Interactions):
            raise TypeError(f"train must be Interactions, got {type(train).__name__}")
        if train.nnz == 0:
            raise ValueError("train has no interactions")
        if valid is not None:
            if not isinstance(valid, Interactions):
                raise TypeError(f"valid must be Interactions, got {type(valid).__name__}")
            if valid.n_users != train.n_users or valid.n_items != train.n_items:
                raise ValueError("valid must share train's IdMaps (same users and items)")
        self._check_params()
        self._clear_fitted()
        self.users_: IdMap = train.users
        self.items_: IdMap = train.items
        self.n_users_ = train.n_users
        self.n_items_ = train.n_items
        self.seen_: sp.csr_array = train.to_csr()

    def _clear_fitted(self) -> None:
        """Drop every fitted attribute (public names ending in ``_``) and derived caches."""
        for name in [k for k in vars(self) if k.endswith("_") and not k.startswith("_")]:
            delattr(self, name)
        self.__dict__.pop("_tensor_cache", None)

    def _check_params(self) -> None:
        """Validate hyperparameters; raise ValueError naming the parameter."""

    def _fit(self, train: Interactions, valid: Interactions | None) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement _fit")

    def _score(self, users: NDArray[np.int64], similarity: str | None = None) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} must implement _score")

    def _score_batches(
        self, users: NDArray[np.int64], similarity: str | None, batch_size: int
    ) -> Iterator[tuple[int, NDArray[np.int64], torch.Tensor]]:
        """Yield ``(start, batch, scores)`` over ``users`` in batches.

        The scores of a batch are only valid until the next one is requested:
        subclasses may reuse one buffer (callers mask and rank them in place).
        """
        for start in range(0, len(users), batch_size):
            batch = users[start : start + batch_size]
            yield start, batch, self._score(batch, similarity)

    @property
    def _device(self) -> torch.device:
        return resolve_device(getattr(self, "device", "auto"))

    def _embedding_tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        # Cached device copies, rebuilt when the arrays are replaced (e.g. after load): the
        # cache holds the arrays themselves and compares identity.
        key = (self.user_embeddings_, self.item_embeddings_)
        cache = self.__dict__.get("_tensor_cache")
        if cache is None or cache[0][0] is not key[0] or cache[0][1] is not key[1]:
            dev = self._device
            cache = (
                key,
                torch.from_numpy(np.ascontiguousarray(self.user_embeddings_, np.float32)).to(dev),
                torch.from_numpy(np.ascontiguousarray(self.item_embeddings_, np.float32)).to(dev),
            )
            self.__dict__["_tensor_cache"] = cache
        return cache[1], cache[2]

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_tensor_cache", None)
        return state

    # ------------------------------------------------------------------ scoring
    def score(
        self, users: ArrayLike, *, similarity: str | None = None, ids: str = "index"
    ) -> NDArray[np.float32]:
        """Scores of every item (columns in internal index order) for ``users``.

        Parameters
        ----------
        users : array
            Internal user indices, or your own user ids with ``ids="raw"``.
        similarity : {"dot", "cosine"}, optional
        ids : {"index", "raw"}, default "index"
            How ``users`` are given.

        Returns
        -------
        ndarray of float32, shape (len(users), n_items)

        Raises
        ------
        graphrec.exceptions.UnknownIdError
            ``ids="raw"`` and a user id the model does not know.
        """
        check_is_fitted(self)
        users = to_index(users, self.users_, "user", check_ids(ids))
        return self._score(users, similarity).float().cpu().numpy()

    def recommend(
        self,
        users: ArrayLike,
        k: int = 10,
        *,
        exclude_seen: bool = True,
        items: ArrayLike | None = None,
        exclude_items: ArrayLike | None = None,
        similarity: str | None = None,
        rerank: Any = None,
        ids: str = "index",
    ) -> tuple[NDArray, NDArray[np.float32]]:
        """Top-``k`` items for each user, best first.

        Parameters
        ----------
        users : array
            Internal user indices (``x.users.to_index(labels)`` maps your ids), or your
            own user ids with ``ids="raw"``.
        k : int, default 10
        exclude_seen : bool, default True
            Remove the user's training items.
        items : array of int, optional
            Allow-list: recommend only among these items.
        exclude_items : array of int, optional
            Block-list: never recommend these items.
        similarity : {"dot", "cosine"}, optional
            Override the model's scoring (embedding models only).
        rerank : str or Reranker, optional
            "mmr", "dpp" or a :class:`graphrec.rerank.Reranker`: re-rank a larger
            candidate pool for diversity.
        ids : {"index", "raw"}, default "index"
            How ``users``, ``items`` and ``exclude_items`` are given and the returned
            items named: internal indices, or (``"raw"``) your own ids.

        Returns
        -------
        idx : ndarray, shape (len(users), k)
            Item indices (int64), padded with -1 where fewer than ``k`` candidates
            remain; with ``ids="raw"`` your item ids, padded with None (the array then
            has object dtype).
        scores : ndarray of float32, shape (len(users), k)
            Padded with -inf.

        Raises
        ------
        ValueError
            ``k < 1``, an unknown similarity or ``ids``.
        IndexError
            A user index out of range.
        graphrec.exceptions.UnknownIdError
            ``ids="raw"`` and a user or item id the model does not know.

        Examples
        --------
        >>> import graphrec as gr
        >>> x = gr.Interactions.from_arrays(["ann", "bob", "bob"], ["tea", "tea", "jam"])
        >>> gr.Popularity().fit(x).recommend(["ann"], k=1, ids="raw")[0].tolist()
        [['jam']]
        """
        check_is_fitted(self)
        ids = check_ids(ids)
        users = to_index(users, self.users_, "user", ids)
        k = check_positive_int(k, "k")
        allowed = None
        if items is not None or exclude_items is not None:
            allowed = np.ones(self.n_items_, bool)
            if items is not None:
                allowed[:] = False
                allowed[to_index(items, self.items_, "item", ids, "items")] = True
            if exclude_items is not None:
                allowed[to_index(exclude_items, self.items_, "item", ids, "exclude_items")] = False
        reranker = None
        if rerank is not None:
            from graphrec.rerank import get_reranker

            reranker = get_reranker(rerank)
        blocks = (
            (start, scores)
            for start, _, scores in self._score_batches(
                users, similarity, rows_per_block(self.n_items_, self._batch_size, self._max_block_bytes)
            )
        )
        idx, scores = rank_blocks(
            blocks,
            len(users),
            k,
            exclude=self.seen_ if exclude_seen else None,
            rows=users,
            allowed=allowed,
            reranker=reranker,
            model=self,
        )
        return to_output(idx, self.items_, ids), scores

    def recommend_frame(
        self,
        users: ArrayLike,
        k: int = 10,
        *,
        item_info: pd.DataFrame | None = None,
        **kwargs: Any,
    ) -> pd.DataFrame:
        """Recommendations in the caller's own ids, as a tidy DataFrame.

        Parameters
        ----------
        users : array-like of external user ids
        k : int
        item_info : DataFrame, optional
            Indexed by internal item index; its ``title`` column is joined when present.
        **kwargs
            Passed to :meth:`recommend`. ``users`` are always your own ids; ``ids``
            (default "index") says how ``items`` / ``exclude_items`` are given.

        Returns
        -------
        DataFrame with columns user, rank, item, score[, title]

        Raises
        ------
        KeyError
            An unknown user id.
        """
        check_is_fitted(self)
        labels = np.atleast_1d(np.asarray(users))
        ids = check_ids(kwargs.pop("ids", "index"))
        for key in ("items", "exclude_items"):
            if kwargs.get(key) is not None:
                kwargs[key] = to_index(kwargs[key], self.items_, "item", ids, key)
        idx, scores = self.recommend(to_index(labels, self.users_, "user", "raw"), k, ids="index", **kwargs)
        valid = idx >= 0
        rows = np.nonzero(valid)
        frame = pd.DataFrame(
            {
                "user": labels[rows[0]],
                "rank": rows[1] + 1,
                "item": self.items_.to_labels(idx[valid]),
                "score": scores[valid],
            }
        )
        if item_info is not None and "title" in item_info.columns:
            frame["title"] = item_info["title"].reindex(idx[valid]).to_numpy()
        return frame

    def similar_items(
        self, items: ArrayLike, k: int = 10, *, ids: str = "index"
    ) -> tuple[NDArray, NDArray[np.float32]]:
        """Most similar items by cosine similarity of item embeddings (self excluded).

        Parameters
        ----------
        items : array
            Internal item indices, or your own item ids with ``ids="raw"``.
        k : int, default 10
        ids : {"index", "raw"}, default "index"
            How ``items`` are given and the returned items named.

        Returns
        -------
        idx, scores : ndarrays of shape (len(items), k)
            Padded with -1 / -inf when ``k >= n_items`` (with ``ids="raw"``: your item
            ids, padded with None).

        Raises
        ------
        AttributeError
            The model has no item embeddings.
        graphrec.exceptions.UnknownIdError
            ``ids="raw"`` and an item id the model does not know.
        """
        check_is_fitted(self)
        ids = check_ids(ids)
        items = to_index(items, self.items_, "item", ids)
        k = check_positive_int(k, "k")
        vectors = getattr(self, "item_embeddings_", None)
        if vectors is None:
            raise AttributeError(f"{type(self).__name__} has no item embeddings for similar_items")
        idx, scores = similar(vectors, items, k, similarity="cosine")
        return to_output(idx, self.items_, ids), scores

    def similar_users(
        self, users: ArrayLike, k: int = 10, *, ids: str = "index"
    ) -> tuple[NDArray, NDArray[np.float32]]:
        """Most similar users by cosine similarity of user embeddings (self excluded).

        Parameters
        ----------
        users : array
            Internal user indices, or your own user ids with ``ids="raw"``.
        k : int, default 10
        ids : {"index", "raw"}, default "index"
            How ``users`` are given and the returned users named.

        Returns
        -------
        idx, scores : ndarrays of shape (len(users), k)
            Padded with -1 / -inf when ``k >= n_users`` (with ``ids="raw"``: your user
            ids, padded with None).

        Raises
        ------
        AttributeError
            The model has no user embeddings.
        graphrec.exceptions.UnknownIdError
            ``ids="raw"`` and a user id the model does not know.
        """
        check_is_fitted(self)
        ids = check_ids(ids)
        users = to_index(users, self.users_, "user", ids)
        k = check_positive_int(k, "k")
        vectors = getattr(self, "user_embeddings_", None)
        if vectors is None:
            raise AttributeError(f"{type(self).__name__} has no user embeddings for similar_users")
        idx, scores = similar(vectors, users, k, similarity="cosine")
        return to_output(idx, self.users_, ids), scores

    # ------------------------------------------------------------------ cold start, explanations
    def fold_in(
        self,
        rows: sp.sparray | sp.spmatrix,
        *,
        method: str = "auto",
        alpha: float = 10.0,
        regularization: float = 1.0,
    ) -> NDArray[np.float32]:
        """User vectors for new users from their items, without retraining.

        The default folds users into ``item_embeddings_`` (see
        :func:`graphrec.coldstart.fold_in_vectors`); models with a closed form
        override it (:class:`graphrec.GraphFilter`).
        :func:`graphrec.coldstart.fold_in_users` is the door from item lists.

        Parameters
        ----------
        rows : sparse matrix, shape (n_new_users, n_items)
            The new users' items, with interaction weights as values (>= 0).
        method : {"auto", "propagation", "ridge", "mean"}, default "auto"
            "auto" is the class's ``fold_in_default``.
        alpha : float, default 10
            Ridge: extra confidence of the given items over unobserved ones.
        regularization : float, default 1.0
            Ridge: L2 weight relative to the mean diagonal of the item Gram matrix.

        Returns
        -------
        ndarray of float32, shape (n_new_users, embedding_dim)

        Raises
        ------
        ValueError
            The model has no item embeddings, or a bad ``method``, ``alpha``,
            ``regularization`` or ``rows``.
        """
        from graphrec.coldstart import check_fold_in_params, fold_in_vectors

        check_is_fitted(self)
        method, alpha, regularization = check_fold_in_params(method, alpha, regularization)
        rows = self._new_user_rows(rows)
        vectors = getattr(self, "item_embeddings_", None)
        if vectors is None:
            raise ValueError(
                f"model {type(self).__name__} has no item_embeddings_ to fold users into"
            )
        return fold_in_vectors(
            vectors,
            rows,
            self.fold_in_default if method == "auto" else method,
            item_degree=np.bincount(self.seen_.indices, minlength=self.n_items_),
            alpha=alpha,
            regularization=regularization,
        )

    def score_new_users(
        self, rows: sp.sparray | sp.spmatrix, **fold_in_params: Any
    ) -> NDArray[np.float32]:
        """Scores of every item for new users given by their items, without retraining.

        The default scores :meth:`fold_in`'s vectors against ``item_embeddings_``
        with the model's similarity; GraphFilter and Popularity override it.

        Parameters
        ----------
        rows : sparse matrix, shape (n_new_users, n_items)
            The new users' items (weights as values).
        **fold_in_params
            ``method``, ``alpha``, ``regularization`` of :meth:`fold_in`.

        Returns
        -------
        ndarray of float32, shape (n_new_users, n_items)
        """
        u = self.fold_in(rows, **fold_in_params)
        v = torch.from_numpy(np.asarray(self.item_embeddings_, np.float32))
        return embedding_scores(torch.from_numpy(u), v, self._default_similarity()).numpy()

    def explain_weighting(self) -> str:
        """The walk weighting that explains this model's scores (``weighting="auto"``).

        "normalized" (``D^-1/2 A D^-1/2``) for models that propagate over the
        normalised graph, "count" (co-occurrence) otherwise; see
        :mod:`graphrec.explain`.
        """
        return "count"

    def _default_similarity(self) -> str:
        return "dot"

    def _new_user_rows(self, rows: sp.sparray | sp.spmatrix) -> sp.csr_array:
        """``rows`` as CSR after checking shape and weights."""
        if not sp.issparse(rows):
            raise TypeError(
                f"rows must be a scipy sparse matrix (n_new_users, n_items), got {type(rows).__name__}"
            )
        rows = sp.csr_array(rows)
        if rows.ndim != 2 or rows.shape[1] != self.n_items_:
            raise ValueError(f"rows must have {self.n_items_} columns (n_items), got shape {rows.shape}")
        if not np.isfinite(rows.data).all() or (rows.data < 0).any():
            raise ValueError("rows must hold finite weights >= 0")
        return rows

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike, *, overwrite: bool = False) -> None:
        """Save hyperparameters and fitted state to directory ``path`` (atomic).

        The folder is written beside ``path`` and renamed into place. A save never
        destroys what was there: see :func:`graphrec.persistence.check_target`.

        Parameters
        ----------
        path : path
            A new or empty folder, or (with ``overwrite``) an existing model folder.
        overwrite : bool, default False
            Replace an existing graphrec model at ``path``.

        Raises
        ------
        TypeError
            A fitted attribute cannot be stored without pickle.
        graphrec.persistence.OutputExistsError
            ``path`` is a file or a non-empty folder that is not a graphrec model, a
            model and ``overwrite`` is False, or a model folder holding other files.
        """
        check_is_fitted(self)
        write_state(path, self._to_state(), overwrite=overwrite)

    def _to_state(self) -> ModelState:
        fitted = {k: v for k, v in vars(self).items() if k.endswith("_") and not k.startswith("_")}
        return encode_state(type(self).__name__, self.get_params(deep=False), fitted)

    @classmethod
    def _from_state(cls, state: ModelState) -> Recommender:
        model = cls(**state.params)
        for name, value in decode_attributes(state).items():
            setattr(model, name, value)
        return model


class EmbeddingRecommender(Recommender):
    """A recommender whose scores come from user and item embeddings.

    Subclasses set ``user_embeddings_`` and ``item_embeddings_`` (float32 arrays) in
    ``_fit`` and a ``similarity`` hyperparameter ("dot" or "cosine").

    Attributes
    ----------
    user_embeddings_ : ndarray of float32, shape (n_users, embedding_dim)
    item_embeddings_ : ndarray of float32, shape (n_items, embedding_dim)
    """

    def _default_similarity(self) -> str:
        return getattr(self, "similarity", None) or "dot"

    def _score(self, users: NDArray[np.int64], similarity: str | None = None) -> torch.Tensor:
        similarity = similarity or self._default_similarity()
        if similarity not in SIMILARITIES:
            raise ValueError(f"similarity must be one of {SIMILARITIES}, got {similarity!r}")
        u, v = self._embedding_tensors()
        return embedding_scores(u[torch.from_numpy(users).to(u.device)], v, similarity)

    def _score_batches(
        self, users: NDArray[np.int64], similarity: str | None, batch_size: int
    ) -> Iterator[tuple[int, NDArray[np.int64], torch.Tensor]]:
        # the one batched scorer (reused buffer, numpy BLAS on CPU): retrieval.score_blocks
        similarity = similarity or self._default_similarity()
        if similarity not in SIMILARITIES:
            raise ValueError(f"similarity must be one of {SIMILARITIES}, got {similarity!r}")
        u, v = self._embedding_tensors()
        for start, out in score_blocks(u, v, similarity, batch_size=batch_size, rows=users):
            yield start, users[start : start + len(out)], out
