"""The contract every recommender shares: fit, score, recommend, save.

Subclasses implement ``_fit(train, valid)`` and ``_score(users, similarity)``;
everything else (validation, seen-item exclusion, batching, the label-level door,
persistence) lives here once.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from graphrec.data.ids import IdMap
from graphrec.data.interactions import Interactions
from graphrec.persistence import ModelState, write_state
from graphrec.retrieval import SIMILARITIES, embedding_scores, top_k
from graphrec.utils import as_index_array, check_positive_int, resolve_device

__all__ = ["EmbeddingRecommender", "Recommender"]

_SPARSE_PARTS = ("data", "indices", "indptr")


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
        # Cached device copies, rebuilt when the arrays are replaced (e.g. after load). The
        # cache holds the arrays themselves and compares identity: an id() key could match a
        # new array that reuses a freed address and serve stale scores.
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
    def score(self, users: ArrayLike, *, similarity: str | None = None) -> NDArray[np.float32]:
        """Scores of every item for ``users`` (internal indices).

        Returns
        -------
        ndarray of float32, shape (len(users), n_items)
        """
        check_is_fitted(self)
        users = as_index_array(users, self.n_users_, "users")
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
    ) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        """Top-``k`` items for each user, best first.

        Parameters
        ----------
        users : array of int
            Internal user indices (``x.users.to_index(labels)`` maps your ids).
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

        Returns
        -------
        idx : ndarray of int64, shape (len(users), k)
            Padded with -1 where fewer than ``k`` candidates remain.
        scores : ndarray of float32, shape (len(users), k)
            Padded with -inf.

        Raises
        ------
        ValueError
            ``k < 1`` or an unknown similarity.
        IndexError
            A user index out of range.
        """
        check_is_fitted(self)
        users = as_index_array(users, self.n_users_, "users")
        k = check_positive_int(k, "k")
        allowed = None
        if items is not None or exclude_items is not None:
            allowed = np.ones(self.n_items_, bool)
            if items is not None:
                allowed[:] = False
                allowed[as_index_array(items, self.n_items_, "items")] = True
            if exclude_items is not None:
                allowed[as_index_array(exclude_items, self.n_items_, "exclude_items")] = False
        reranker = None
        pool = k
        if rerank is not None:
            from graphrec.rerank import get_reranker

            reranker = get_reranker(rerank)
            pool = max(k, reranker.pool_size(k))
        out_idx = np.empty((len(users), k), np.int64)
        out_scores = np.empty((len(users), k), np.float32)
        for start, batch, scores in self._score_batches(users, similarity, self._batch_size):
            idx, sc = top_k(
                scores, pool, exclude=self.seen_ if exclude_seen else None, rows=batch, allowed=allowed
            )
            if reranker is not None:
                idx, sc = reranker.rerank(idx, sc, k, model=self)
            out_idx[start : start + len(batch)] = idx[:, :k]
            out_scores[start : start + len(batch)] = sc[:, :k]
        return out_idx, out_scores

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
            Passed to :meth:`recommend`.

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
        idx, scores = self.recommend(self.users_.to_index(labels), k, **kwargs)
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

    def similar_items(self, items: ArrayLike, k: int = 10) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        """Most similar items by cosine similarity of item embeddings (self excluded).

        Returns
        -------
        idx, scores : ndarrays of shape (len(items), k)
        """
        check_is_fitted(self)
        items = as_index_array(items, self.n_items_, "items")
        k = check_positive_int(k, "k")
        vectors = getattr(self, "item_embeddings_", None)
        if vectors is None:
            raise AttributeError(f"{type(self).__name__} has no item embeddings for similar_items")
        v = torch.from_numpy(np.asarray(vectors, np.float32))
        scores = embedding_scores(v[torch.from_numpy(items)], v, "cosine")
        scores[torch.arange(len(items)), torch.from_numpy(items)] = -np.inf
        return top_k(scores, k)

    def similar_users(self, users: ArrayLike, k: int = 10) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        """Most similar users by cosine similarity of user embeddings (self excluded).

        Parameters
        ----------
        users : array of int
            Internal user indices.
        k : int, default 10

        Returns
        -------
        idx, scores : ndarrays of shape (len(users), k)
            Padded with -1 / -inf when ``k >= n_users``.

        Raises
        ------
        AttributeError
            The model has no user embeddings.
        """
        check_is_fitted(self)
        users = as_index_array(users, self.n_users_, "users")
        k = check_positive_int(k, "k")
        vectors = getattr(self, "user_embeddings_", None)
        if vectors is None:
            raise AttributeError(f"{type(self).__name__} has no user embeddings for similar_users")
        from graphrec.retrieval import similar

        return similar(vectors, users, k, similarity="cosine")

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike) -> None:
        """Save hyperparameters and fitted state to directory ``path`` (atomic).

        Raises
        ------
        TypeError
            A fitted attribute cannot be stored without pickle.
        """
        check_is_fitted(self)
        write_state(path, self._to_state())

    def _to_state(self) -> ModelState:
        arrays: dict[str, np.ndarray] = {}
        attrs: dict[str, Any] = {}
        for name, value in vars(self).items():
            if not name.endswith("_") or name.startswith("_"):
                continue
            if isinstance(value, np.ndarray):
                arrays[name] = value
            elif isinstance(value, sp.sparray | sp.spmatrix):
                csr = sp.csr_array(value)
                for part in _SPARSE_PARTS:
                    arrays[f"{name}::{part}"] = getattr(csr, part)
                attrs[name] = {"__sparse__": list(csr.shape)}
            elif isinstance(value, IdMap):
                arrays[f"{name}::labels"] = np.asarray(value.labels)
                attrs[name] = {"__idmap__": True}
            else:
                attrs[name] = _jsonable(value, name)
        params = {k: _jsonable(v, k) for k, v in self.get_params(deep=False).items()}
        return ModelState(type(self).__name__, params, arrays, attrs)

    @classmethod
    def _from_state(cls, state: ModelState) -> Recommender:
        model = cls(**state.params)
        for name, value in state.attributes.items():
            if isinstance(value, dict) and "__sparse__" in value:
                parts = [state.arrays[f"{name}::{p}"] for p in _SPARSE_PARTS]
                value = sp.csr_array(tuple(parts), shape=tuple(value["__sparse__"]))
            elif isinstance(value, dict) and "__idmap__" in value:
                value = IdMap(state.arrays[f"{name}::labels"])
            setattr(model, name, value)
        for name, arr in state.arrays.items():
            if "::" not in name:
                setattr(model, name, arr)
        return model


def _jsonable(value: Any, name: str) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, name) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v, name) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"attribute {name!r} of type {type(value).__name__} cannot be saved")


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
        # One score buffer reused across batches: a fresh (batch x n_items) tensor per
        # batch costs as much in page faults as the matrix product itself on CPU.
        similarity = similarity or self._default_similarity()
        if similarity not in SIMILARITIES:
            raise ValueError(f"similarity must be one of {SIMILARITIES}, got {similarity!r}")
        u, v = self._embedding_tensors()
        if similarity == "cosine":
            v = torch.nn.functional.normalize(v, dim=1)
        # (Small queries stay in torch: waking OpenBLAS's threads for one user costs ~20 ms.)
        on_cpu = v.device.type == "cpu" and len(users) >= 64
        buffer = torch.empty((min(batch_size, len(users)), v.shape[0]), device=v.device)
        if on_cpu:
            # numpy's OpenBLAS sgemm measured 2.4x faster than torch's MKL one on the
            # AMD CPUs we benchmark on (0.115 s vs 0.28 s per 2048 x 40,981 x 64 block);
            # the buffer is shared, so torch ranks it without a copy.
            v_np, buffer_np = v.numpy(), buffer.numpy()
        for start in range(0, len(users), batch_size):
            batch = users[start : start + batch_size]
            q = u[torch.from_numpy(batch).to(u.device)]
            if similarity == "cosine":
                q = torch.nn.functional.normalize(q, dim=1)
            out = buffer[: len(batch)]
            if on_cpu:
                np.matmul(q.numpy(), v_np.T, out=buffer_np[: len(batch)])
            else:
                torch.mm(q, v.T, out=out)
            if similarity == "cosine":
                out.clamp_(-1.0, 1.0)
            yield start, batch, out

