"""The popularity baseline: every user gets the most interacted-with items."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from numpy.typing import NDArray
from sklearn.utils.validation import check_is_fitted

from graphrec.data.interactions import Interactions
from graphrec.models.base import Recommender

__all__ = ["Popularity"]


class Popularity(Recommender):
    """Rank items by their number of training interactions (or summed weight).

    Parameters
    ----------
    use_weights : bool, default False
        Rank by summed interaction weight instead of interaction count.

    Attributes
    ----------
    item_popularity_ : ndarray of float32, shape (n_items,)

    Examples
    --------
    >>> from graphrec import Interactions
    >>> x = Interactions.from_arrays([0, 1, 1], [1, 1, 0], n_users=2, n_items=3)
    >>> Popularity().fit(x).recommend([0], k=2, exclude_seen=False)[0].tolist()
    [[1, 0]]
    """

    def __init__(self, *, use_weights: bool = False) -> None:
        self.use_weights = use_weights

    def _fit(self, train: Interactions, valid: Interactions | None) -> None:
        if self.use_weights:
            pop = np.asarray(train.to_csr().sum(axis=0)).ravel()
        else:
            pop = train.item_degrees
        self.item_popularity_ = pop.astype(np.float32)

    def _score(self, users: NDArray[np.int64], similarity: str | None = None) -> torch.Tensor:
        if similarity is not None:
            raise ValueError("Popularity has no embeddings; similarity must be None")
        pop = torch.from_numpy(self.item_popularity_)
        return pop.unsqueeze(0).repeat(len(users), 1)

    def _score_batches(
        self, users: NDArray[np.int64], similarity: str | None, batch_size: int
    ) -> Iterator[tuple[int, NDArray[np.int64], torch.Tensor]]:
        # every row is the same vector: refill one reused buffer instead of allocating
        if similarity is not None:
            raise ValueError("Popularity has no embeddings; similarity must be None")
        pop = torch.from_numpy(self.item_popularity_)
        buffer = torch.empty((min(batch_size, len(users)), len(pop)))
        for start in range(0, len(users), batch_size):
            batch = users[start : start + batch_size]
            out = buffer[: len(batch)]
            out.copy_(pop.expand_as(out))
            yield start, batch, out

    def score_new_users(self, rows: sp.sparray | sp.spmatrix, **fold_in_params: Any) -> NDArray[np.float32]:
        """The popularity row for every new user (``fold_in_params`` are ignored).

        Returns
        -------
        ndarray of float32, shape (n_new_users, n_items)
        """
        check_is_fitted(self)
        rows = self._new_user_rows(rows)
        return np.repeat(self.item_popularity_[None, :].astype(np.float32), rows.shape[0], axis=0)
