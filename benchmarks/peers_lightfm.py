"""LightFM as a peer: ``lightfm.LightFM`` on the binarised train matrix, trained epoch by epoch.

Kept out of ``peers.py`` (which registers it as ``"lightfm"``) so that file stays one
registry of small wrappers. LightFM is imported only inside :meth:`LightFMPeer._fit`.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import scipy.sparse as sp
from peer_base import EpochPeer

from graphrec.data.interactions import Interactions
from graphrec.utils import check_positive_float, check_positive_int

__all__ = ["LIGHTFM_LOSSES", "LightFMPeer"]

#: the losses of ``lightfm.LightFM`` (its documentation: logistic for explicit +/- feedback,
#: BPR and WARP for positives only, WARP-kOS a WARP variant)
LIGHTFM_LOSSES = ("warp", "bpr", "logistic", "warp-kos")


class LightFMPeer(EpochPeer):
    """LightFM (Kula 2015) without side features: matrix factorisation with biases (peer).

    Trained with ``fit_partial`` one epoch at a time, so a per-epoch callback (the tune
    pruner's, :func:`graphrec.tune`) and ``time_budget`` can stop it between epochs. The
    stored embeddings reproduce LightFM's own ``predict`` exactly: users are
    ``[user_vector, 1, user_bias]`` and items ``[item_vector, item_bias, 1]``, so their dot
    product is ``user_vector . item_vector + item_bias + user_bias``. The scores then go
    through graphrec's full-ranking evaluation with the user's train items masked, as every
    other model's.

    Parameters
    ----------
    no_components : int, default 64
        Embedding size (LightFM's own default is 10; 64 is graphrec's embedding size).
    loss : {"warp", "bpr", "logistic", "warp-kos"}, default "warp"
        WARP is what LightFM's documentation recommends for top-of-list ranking from
        positive-only feedback.
    learning_rate : float, default 0.05
        Adagrad's initial learning rate (LightFM's default).
    item_alpha, user_alpha : float, default 0.0
        L2 penalties on the item and user embeddings (LightFM's defaults).
    max_sampled : int, default 10
        Most negatives WARP samples per positive (LightFM's default).
    epochs : int, default 30
        Passes over the training interactions (LightFM's README quickstart: WARP, 30 epochs).
    num_threads : int, default 1
        LightFM's ``num_threads`` (its default). More threads train Hogwild-style: faster,
        but two runs with the same ``random_state`` then differ.
    time_budget : float, optional
        Wall-clock seconds of training, checked after every epoch.
    random_state : int, optional, default 0
        Seeds LightFM's initialisation and shuffling.

    Attributes
    ----------
    user_embeddings_ : ndarray of float32, shape (n_users, no_components + 2)
    item_embeddings_ : ndarray of float32, shape (n_items, no_components + 2)
    history_ : list of dict
        Per epoch: epoch, seconds.
    epochs_done_ : int
    stopped_ : str
        "epochs", "time_budget" or "callback".
    """

    @classmethod
    def search_space(cls) -> dict[str, Any]:
        """LightFM's knobs over ranges around its documented settings.

        The class defaults (LightFM docs: ``no_components=10``, ``learning_rate=0.05``,
        ``item_alpha=user_alpha=0``; README quickstart: WARP, 30 epochs) and its WARP example
        (``examples/movielens/warp_loss.ipynb``: 32 components, alphas 1e-5, 70 epochs, test
        accuracy falling after ~10 epochs without regularisation) sit inside the ranges;
        components as the implicit peers' and graphrec's ALS space. An epoch on Last.fm takes
        ~0.06 s on one core (64 components), so epochs cost little and go to 100.
        """
        from graphrec.tuning.spaces import Float, Int

        return {
            "no_components": [32, 64, 128],
            "loss": ["warp", "bpr"],
            "learning_rate": Float(5e-3, 0.2, log=True),
            "item_alpha": Float(1e-8, 1e-4, log=True),
            "user_alpha": Float(1e-8, 1e-4, log=True),
            "epochs": Int(5, 100, log=True),
        }

    def __init__(self, *, no_components: int = 64, loss: str = "warp", learning_rate: float = 0.05,
                 item_alpha: float = 0.0, user_alpha: float = 0.0, max_sampled: int = 10, epochs: int = 30,
                 num_threads: int = 1, time_budget: float | None = None, random_state: int | None = 0) -> None:
        self.no_components = no_components
        self.loss = loss
        self.learning_rate = learning_rate
        self.item_alpha = item_alpha
        self.user_alpha = user_alpha
        self.max_sampled = max_sampled
        self.epochs = epochs
        self.num_threads = num_threads
        self.time_budget = time_budget
        self.random_state = random_state

    def _check_params(self) -> None:
        check_positive_int(self.no_components, "no_components")
        if self.loss not in LIGHTFM_LOSSES:
            raise ValueError(f"loss must be one of {LIGHTFM_LOSSES}, got {self.loss!r}")
        check_positive_float(self.learning_rate, "learning_rate")
        check_positive_float(self.item_alpha, "item_alpha", allow_zero=True)
        check_positive_float(self.user_alpha, "user_alpha", allow_zero=True)
        check_positive_int(self.max_sampled, "max_sampled")
        check_positive_int(self.epochs, "epochs")
        check_positive_int(self.num_threads, "num_threads")
        if self.time_budget is not None:
            check_positive_float(self.time_budget, "time_budget")

    def _fit(self, train: Interactions, valid: Interactions | None) -> None:
        from lightfm import LightFM

        csr = train.to_csr()
        rows = np.repeat(np.arange(csr.shape[0], dtype=np.int32), np.diff(csr.indptr))
        coo = sp.coo_matrix(  # binarised: every train interaction a positive of weight 1; int32 ids, as
            (np.ones(csr.nnz, np.float32), (rows, csr.indices.astype(np.int32))),  # LightFM's Cython needs
            shape=csr.shape,
        )
        model = LightFM(no_components=int(self.no_components), loss=self.loss, learning_rate=float(self.learning_rate),
                        item_alpha=float(self.item_alpha), user_alpha=float(self.user_alpha),
                        max_sampled=int(self.max_sampled), random_state=self.random_state)
        history: list[dict[str, Any]] = []
        stopped = "epochs"
        start = time.perf_counter()
        for epoch in range(1, int(self.epochs) + 1):
            t0 = time.perf_counter()
            model.fit_partial(coo, epochs=1, num_threads=int(self.num_threads))
            history.append({"epoch": epoch, "seconds": round(time.perf_counter() - t0, 4)})
            if self.time_budget is not None and time.perf_counter() - start >= self.time_budget:
                stopped = "time_budget"
                break
            if self._callbacks:
                t1 = time.perf_counter()
                self._set_embeddings(model)
                halt = self._stop_after(history[-1])
                start += time.perf_counter() - t1
                if halt:
                    stopped = "callback"
                    break
        self._set_embeddings(model)
        self.history_ = history
        self.epochs_done_ = len(history)
        self.stopped_ = stopped

    def _set_embeddings(self, model: Any) -> None:
        user_bias, user_vec = model.get_user_representations()
        item_bias, item_vec = model.get_item_representations()
        ones_u = np.ones((len(user_vec), 1), np.float32)
        ones_i = np.ones((len(item_vec), 1), np.float32)
        self.user_embeddings_ = np.ascontiguousarray(np.hstack([user_vec, ones_u, user_bias[:, None]]), np.float32)
        self.item_embeddings_ = np.ascontiguousarray(np.hstack([item_vec, item_bias[:, None], ones_i]), np.float32)
        self.__dict__.pop("_tensor_cache", None)
