"""The base of the peers trained epoch by epoch: ``fit`` with per-epoch callbacks.

:class:`peers.PyGLightGCN` and :class:`peers_lightfm.LightFMPeer` share it. It lives in its
own module rather than in ``peers.py`` because ``peers.py`` imports ``peers_lightfm``: a base
defined there would make the two modules import each other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Self

from graphrec.data.interactions import Interactions
from graphrec.models.base import EmbeddingRecommender

__all__ = ["EpochPeer"]

class EpochPeer(EmbeddingRecommender):
    """A peer whose ``_fit`` trains epoch by epoch and asks :meth:`_stop_after` after each epoch.

    ``_fit`` sets the embeddings to the epoch's state before it calls :meth:`_stop_after`, so a
    callback (the tune pruner's, :func:`graphrec.tune`) scores what the model would return, and
    leaves the time spent in it out of ``time_budget``.
    """

    _callbacks: tuple[Callable[..., Any], ...] = ()

    def fit(self, train: Interactions, valid: Interactions | None = None, *,
            callbacks: Iterable[Callable[..., Any]] = ()) -> Self:
        """Fit; ``callback(model, record)`` after every whole epoch (embeddings set; True stops).

        The time spent in callbacks is not counted against ``time_budget``.
        """
        self._callbacks = tuple(callbacks)
        try:
            super().fit(train, valid)
            return self
        finally:
            self._callbacks = ()

    def _stop_after(self, record: dict[str, Any]) -> bool:
        """Call each callback with a copy of the epoch's ``record`` until one returns True (stop)."""
        return any(bool(cb(self, dict(record))) for cb in self._callbacks)
