"""Neural collaborative filtering (He et al., WWW 2017): GMF, MLP and NeuMF scorers.

* GMF: ``h_g . (p_u * q_i)`` -- a weighted dot product;
* MLP: a ReLU tower over the concatenated embeddings ``[p'_u, q'_i]``, then ``h_m . z``;
* NeuMF: both, with separate embedding tables (as in the paper), their last layers
  concatenated before one output layer; optionally initialised from a fitted GMF and
  MLP (``pretrained=`` at fit, or ``pretrain=True``) with the output mixed by ``alpha``.

Trained on the shared engine (:mod:`graphrec.training`): the module's ``ego`` table
holds every node's GMF and MLP embeddings side by side, and its ``score_pairs`` is the
pair scorer BPR/BCE go through (the engine's hook for non-dot-product models).

Full-ranking scoring (``recommend``, ``evaluate``) runs the tower over user batches and
item blocks. The first layer is split, ``W [p; q] = W_u p + W_i q``, so each user's and
each item's projection is computed once and only their sum (a block of
``batch x items x hidden_sizes[0]`` floats, at most ``_GRID_FLOATS``) is materialised.

One piece (~560 lines, half of them docstrings): the settings, the module and the
estimator share one layout (the ego table's GMF-then-MLP columns, the flat tower
weights), which the pretrained initialisation, persistence and scoring all read.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from sklearn.utils.validation import check_is_fitted

from graphrec.data.interactions import Interactions
from graphrec.exceptions import TrainingError
from graphrec.models.base import EmbeddingRecommender
from graphrec.persistence import ModelState
from graphrec.retrieval import SIMILARITIES
from graphrec.training import TrainableModel, TrainConfig, engine_parameters, fit_embeddings
from graphrec.utils import check_positive_float, check_positive_int, numpy_rng, torch_generator

__all__ = ["NCF", "SCORERS", "NCFConfig", "NCFModule"]

#: the scorers of He et al. (2017)
SCORERS = ("gmf", "mlp", "neumf")

# Floats of the widest (users x items x hidden) block of the grid scorer (128 MB). Blocks
# of 2,048 users x 32 / 128 / 512 Gowalla items through a 64-32-16 tower with reused
# buffers, 2 busy cores (load ~7): 1.8, 0.9, 0.75 us per (user, item) pair; wider blocks
# let the matrix products use both threads. The (users, n_items) output batch comes on top.
_GRID_FLOATS = 1 << 25


@dataclass(frozen=True)
class NCFConfig(TrainConfig):
    """The engine's settings with NCF's objective as the paper trains it.

    Parameters
    ----------
    loss : {"bce", "bpr"}, default "bce"
        Objective over the scorer's logits: binary cross-entropy with sampled negatives
        (He et al. 2017) or BPR. InfoNCE is not offered: it scores by cosine, which an
        MLP scorer has no counterpart of.
    n_negatives : int, default 4
        Sampled negatives per positive (the paper's 4), rejecting the user's seen items.

    Raises
    ------
    ValueError
        Any :class:`TrainConfig` check, a loss NCF cannot use, a shared pool
        (``neg_pool``, whose users x pool pairs would all go through the tower) or
        weight averaging (``average_fraction``: the engine averages the embedding
        table only, not the tower).
    """

    loss: str = "bce"
    n_negatives: int = 4

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("loss", "initial_loss"):
            value = getattr(self, name)
            if value not in ("bce", "bpr") and not (name == "initial_loss" and value is None):
                raise ValueError(f"{name} must be 'bce' or 'bpr' for NCF, got {value!r}")
        if self.neg_pool:
            raise ValueError(f"neg_pool must be 0 for NCF (per-pair negatives), got {self.neg_pool!r}")
        if self.average_fraction:
            raise ValueError(
                f"average_fraction must be 0 for NCF (the engine averages embeddings only), "
                f"got {self.average_fraction!r}"
            )


class NCFModule(torch.nn.Module):
    """Embeddings, MLP tower and output layer of one NCF scorer (the engine's module protocol).

    ``ego`` is ``(n_users + n_items, gmf_dim + mlp_dim)``: GMF columns, then MLP columns.
    ``forward(rows, reg_weights)`` returns the rows and their L2 penalty;
    :meth:`score_pairs` is the pair scorer; :meth:`grid_logits` scores users x items.
    """

    def __init__(
        self,
        n_users: int,
        n_items: int,
        *,
        scorer: str,
        embedding_dim: int,
        hidden_sizes: tuple[int, ...],
        dropout: float,
        init_std: float,
        generator: torch.Generator,
        device: torch.device,
    ) -> None:
        super().__init__()
        self.n_users, self.n_items = n_users, n_items
        self.gmf_dim = embedding_dim if scorer != "mlp" else 0
        self.mlp_dim = embedding_dim if scorer != "gmf" else 0
        self.dropout = dropout
        width = self.gmf_dim + self.mlp_dim
        self.ego = torch.nn.Parameter(
            (torch.randn(n_users + n_items, width, generator=generator) * init_std).to(device)
        )
        sizes = (2 * self.mlp_dim, *hidden_sizes) if self.mlp_dim else ()
        self.tower = torch.nn.ModuleList(
            torch.nn.Linear(a, b, device=device) for a, b in itertools.pairwise(sizes)
        )
        out_dim = self.gmf_dim + (sizes[-1] if sizes else 0)
        self.output = torch.nn.Parameter(torch.empty(out_dim, device=device))
        self.bias = torch.nn.Parameter(torch.zeros(1, device=device))
        with torch.no_grad():  # torch.nn.Linear's default ranges, drawn from ``generator``
            for p in [*self.tower.parameters(), self.output]:
                fan_in = p.shape[1] if p.ndim == 2 else max(p.shape[0], 1)
                bound = fan_in**-0.5
                p.copy_(torch.empty(p.shape).uniform_(-bound, bound, generator=generator))

    def forward(
        self, rows: torch.Tensor | None = None, reg_weights: torch.Tensor | None = None
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        if rows is None:
            return self.ego
        out = self.ego.index_select(0, rows)
        if reg_weights is None:
            return out, self.ego.new_zeros(())
        return out, (out.square().sum(1) * reg_weights).sum()

    def layers(self) -> list[torch.nn.Linear]:
        """The tower's linear layers, first (the split input layer) to last."""
        return [cast(torch.nn.Linear, layer) for layer in self.tower]

    def _tower(self, x: torch.Tensor) -> torch.Tensor:
        """ReLU tower from the first layer's pre-activation ``x`` to the MLP logit part."""
        x = F.dropout(x.relu(), self.dropout, self.training)
        for layer in self.layers()[1:]:
            x = F.dropout(layer(x).relu(), self.dropout, self.training)
        return x @ self.output[self.gmf_dim :]

    def score_pairs(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Logits of (user, item) rows of ``ego``, broadcasting over leading dimensions."""
        g, m = self.gmf_dim, self.mlp_dim
        logit: torch.Tensor = self.bias
        if g:
            logit = logit + (users[..., :g] * items[..., :g]) @ self.output[:g]
        if m:
            first = self.layers()[0]
            pre = F.linear(users[..., g:], first.weight[:, :m], first.bias)
            logit = logit + self._tower(pre + F.linear(items[..., g:], first.weight[:, m:]))
        return logit

    @torch.no_grad()
    def grid_logits(self, users: torch.Tensor, items: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """Logits of every (user, item) pair into ``out`` (len(users), len(items)), in eval mode.

        ``users``/``items`` are rows of ``ego``. Items go in blocks so that no
        intermediate exceeds ``_GRID_FLOATS`` floats.
        """
        g, m = self.gmf_dim, self.mlp_dim
        if g:
            torch.matmul(users[:, :g] * self.output[:g], items[:, :g].T, out=out)
            out += self.bias
        else:
            out.fill_(float(self.bias))
        if not m:
            return out
        layers, h = self.layers(), self.output[g:]
        first = layers[0]
        up = F.linear(users[:, g:], first.weight[:, :m], first.bias)
        ip = F.linear(items[:, g:], first.weight[:, m:])
        b, widths = len(users), [layer.out_features for layer in layers]
        step = min(len(items), max(1, _GRID_FLOATS // max(1, b * max(widths))))
        # one buffer per layer, reused by every block (the last block uses their heads)
        bufs = [up.new_empty(b * step * w) for w in widths]
        logit = up.new_empty(b * step)
        for s in range(0, len(items), step):
            c = min(step, len(items) - s)
            n = b * c
            x = bufs[0][: n * widths[0]].view(b, c, widths[0])
            torch.add(up[:, None, :], ip[None, s : s + c, :], out=x).relu_()
            x = x.view(n, widths[0])
            for layer, buf, w in zip(layers[1:], bufs[1:], widths[1:], strict=True):
                y = buf[: n * w].view(n, w)
                x = torch.addmm(layer.bias, x, layer.weight.T, out=y).relu_()
            out[:, s : s + c] += torch.mv(x, h, out=logit[:n]).view(b, c)
        return out


@engine_parameters(after="alpha", config=NCFConfig)
class NCF(EmbeddingRecommender, TrainableModel):
    """Neural collaborative filtering: GMF, MLP or NeuMF scorer (He et al., WWW 2017).

    Parameters
    ----------
    scorer : {"gmf", "mlp", "neumf"}, default "neumf"
        GMF (weighted elementwise product), MLP (ReLU tower over concatenated
        embeddings) or NeuMF (both, separate embedding tables, one output layer).
    embedding_dim : int, default 64
        Size of each embedding table (GMF's and MLP's; NeuMF has both).
    hidden_sizes : sequence of int, default (64, 32, 16)
        The MLP tower's layers (its input is ``2 * embedding_dim``); the paper halves
        the width per layer. Unused by GMF.
    dropout : float in [0, 1), default 0.0
        Dropout after each tower layer during training.
    pretrain : bool, default False
        NeuMF only: fit a GMF and an MLP first (same settings, each a third of
        ``time_budget`` when one is set) and start from them as the paper does
        (see ``fit(pretrained=...)``); NeuMF then gets the rest of the budget.
    alpha : float in [0, 1], default 0.5
        Weight of the GMF tower in a pretrained NeuMF's output layer (``1 - alpha``
        for the MLP's), as the paper's trade-off.
    {engine_parameters}
    init_std : float, default 0.01
        Standard deviation of the normal embedding initialisation (the paper's 0.01).
    random_state : int or None, default 0
        Seeds initialisation, shuffling and sampling; equal seeds give identical models
        (None: fresh randomness each fit).
    device : str, default "auto"
    verbose : bool, default False

    Attributes
    ----------
    user_embeddings_ : ndarray of float32, shape (n_users, embedding_dim)
        The GMF part's user vectors scaled by the output layer's GMF weights, so
        ``user_embeddings_ @ item_embeddings_.T`` is exactly the GMF part's logit
        (bias aside); MLP scorer: the tower's input user embeddings. Retrieval by
        ``similarity="dot"|"cosine"``, ``similar_items``, ANN indexes and the default
        cold start (:meth:`fold_in`: a ridge fit of the new user's GMF vector to
        these item vectors, scored by dot product) use these, i.e. the GMF part only.
    item_embeddings_ : ndarray of float32, shape (n_items, embedding_dim)
        The GMF part's item vectors (MLP scorer: the tower's input item embeddings).
    user_vectors_, item_vectors_ : ndarray of float32, shape (n, gmf_dim + mlp_dim)
        All trained embedding rows, GMF columns first.
    tower_weights_ : ndarray of float32, shape (n_tower_params,)
        The tower's layers flattened in order, each weight ``(out, in)`` row-major then
        its bias (empty for GMF).
    output_weights_ : ndarray of float32, shape (gmf_dim + hidden_sizes[-1],)
    output_bias_ : float
    history_, loss_history_, best_epoch_, stopped_, batch_size_, neg_pool_ : see :class:`graphrec.LightGCN`

    Notes
    -----
    ``recommend``, ``score`` and ``evaluate`` use the model's own scorer (through the
    tower for MLP/NeuMF); pass ``similarity="dot"`` to rank by the GMF embeddings
    instead. Evaluating all 29,858 Gowalla users through NeuMF (64-d, tower 64-32-16)
    is measured in benchmarks/ncf_bench.py. Differences from the paper: Adam for
    NeuMF after pretraining too (the paper switches to SGD), L2 on the batch's
    embedding rows (``reg``), tower weights unregularised.

    Examples
    --------
    >>> import graphrec as gr
    >>> x = gr.datasets.synthetic(n_users=20, n_items=10, random_state=0).train
    >>> m = gr.NCF(scorer="neumf", embedding_dim=8, hidden_sizes=(16, 8), epochs=2,
    ...            batch_size=64, random_state=0).fit(x)
    >>> m.score([0, 1]).shape
    (2, 10)
    """

    def __init__(
        self,
        *,
        scorer: str = "neumf",
        embedding_dim: int = 64,
        hidden_sizes: Sequence[int] = (64, 32, 16),
        dropout: float = 0.0,
        pretrain: bool = False,
        alpha: float = 0.5,
        init_std: float = 0.01,
        random_state: int | None = 0,
        device: str = "auto",
        verbose: bool = False,
        **engine: Any,
    ) -> None:
        self.scorer = scorer
        self.embedding_dim = embedding_dim
        self.hidden_sizes = hidden_sizes
        self.dropout = dropout
        self.pretrain = pretrain
        self.alpha = alpha
        self.init_std = init_std
        self.random_state = random_state
        self.device = device
        self.verbose = verbose
        self._set_engine_params(engine)

    # ------------------------------------------------------------------ fitting
    def fit(
        self,
        train: Interactions,
        valid: Interactions | None = None,
        *,
        pretrained: tuple[NCF, NCF] | None = None,
        callbacks: Any = (),
    ) -> NCF:
        """Fit on ``train`` (refits from scratch); early-stop on ``valid`` when given.

        Parameters
        ----------
        train : Interactions
        valid : Interactions, optional
            Validation interactions on train's IdMaps (Recall@20 through the scorer,
            every ``eval_every`` epochs; best state restored; ``patience`` applies).
        pretrained : (NCF, NCF), optional
            NeuMF only: a fitted GMF and a fitted MLP (same ``embedding_dim``,
            ``hidden_sizes`` and data) to start from; the output layer starts as
            ``[alpha h_gmf, (1 - alpha) h_mlp]``, so the untrained NeuMF scores
            ``alpha * gmf + (1 - alpha) * mlp`` logits.
        callbacks : sequence of callables, optional
            ``callback(model, record)`` after each epoch (state stored); True stops.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            Bad hyperparameters or ``pretrained`` towers that do not fit.
        """
        self._pretrained, self._callbacks = pretrained, tuple(callbacks)
        try:
            super().fit(train, valid)
            return self
        finally:
            self._pretrained, self._callbacks = None, ()

    def _check_params(self) -> None:
        if self.scorer not in SCORERS:
            raise ValueError(f"scorer must be one of {SCORERS}, got {self.scorer!r}")
        check_positive_int(self.embedding_dim, "embedding_dim")
        sizes = self.hidden_sizes
        if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence) or not sizes:
            raise ValueError(f"hidden_sizes must be a non-empty sequence of int >= 1, got {sizes!r}")
        for s in sizes:
            check_positive_int(s, "hidden_sizes")
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, (int, float)) or not (
            0 <= self.dropout < 1
        ):
            raise ValueError(f"dropout must be a number in [0, 1), got {self.dropout!r}")
        if isinstance(self.alpha, bool) or not isinstance(self.alpha, (int, float)) or not (
            0 <= self.alpha <= 1
        ):
            raise ValueError(f"alpha must be a number in [0, 1], got {self.alpha!r}")
        if self.pretrain not in (True, False):
            raise ValueError(f"pretrain must be True or False, got {self.pretrain!r}")
        if self.pretrain and self.scorer != "neumf":
            raise ValueError(f"pretrain=True needs scorer='neumf', got scorer={self.scorer!r}")
        check_positive_float(self.init_std, "init_std")
        self._train_config()

    def _build_module(
        self, train: Interactions, device: torch.device, generator: torch.Generator
    ) -> NCFModule:
        """A freshly initialised :class:`NCFModule` for ``train``."""
        return NCFModule(
            train.n_users, train.n_items, scorer=self.scorer, embedding_dim=self.embedding_dim,
            hidden_sizes=tuple(int(s) for s in self.hidden_sizes), dropout=float(self.dropout),
            init_std=self.init_std, generator=generator, device=device,
        )

    def _fit(self, train: Interactions, valid: Interactions | None) -> None:
        seed = self.random_state
        config = self._fit_config(train)
        pretrained = self._pretrained
        if pretrained is None and self.pretrain:
            pretrained, config = self._pretrain_towers(train, valid, config)
        module = self._build_module(
            train, self._device, torch_generator(None if seed is None else int(seed))
        )
        if pretrained is not None:
            self._load_towers(module, pretrained)
        validate = None
        if valid is not None and valid.nnz > 0:
            validate = self._validator(module, valid)
        hooks = [self._hook(module, cb) for cb in self._callbacks]
        result = fit_embeddings(
            module, train, config, validate=validate, random_state=numpy_rng(seed),
            verbose=self.verbose, callbacks=hooks, desc=f"NCF({self.scorer})",
        )
        self._finish_training(module, result.history, result.stopped, result.best_epoch)

    def _pretrain_towers(
        self, train: Interactions, valid: Interactions | None, config: TrainConfig
    ) -> tuple[tuple[NCF, NCF], TrainConfig]:
        """Fit the GMF and MLP towers (a third of the budget each); NeuMF's remaining config."""
        start = time.perf_counter()
        params = self.get_params(deep=False)
        params.update(pretrain=False)
        if config.time_budget is not None:
            params["time_budget"] = config.time_budget / 3
        towers = tuple(
            NCF(**{**params, "scorer": s}).fit(train, valid) for s in ("gmf", "mlp")
        )
        if config.time_budget is not None:
            left = max(config.time_budget - (time.perf_counter() - start), 1e-3)
            config = dataclasses.replace(config, time_budget=left)
        return (towers[0], towers[1]), config

    def _load_towers(self, module: NCFModule, pretrained: tuple[NCF, NCF]) -> None:
        if self.scorer != "neumf":
            raise ValueError(f"pretrained towers need scorer='neumf', got scorer={self.scorer!r}")
        if not isinstance(pretrained, (tuple, list)) or len(pretrained) != 2:
            raise ValueError("pretrained must be a pair (gmf_model, mlp_model)")
        gmf, mlp = pretrained
        for tower, kind in ((gmf, "gmf"), (mlp, "mlp")):
            if not isinstance(tower, NCF) or tower.scorer != kind:
                raise ValueError(f"pretrained must be (NCF(scorer='gmf'), NCF(scorer='mlp')), got {pretrained!r}")
            check_is_fitted(tower)
            if (tower.embedding_dim != self.embedding_dim or (tower.n_users_, tower.n_items_)
                    != (module.n_users, module.n_items)
                    or (kind == "mlp" and tuple(tower.hidden_sizes) != tuple(self.hidden_sizes))):
                raise ValueError(
                    f"pretrained {kind} tower must match embedding_dim, hidden_sizes and the data's "
                    "users and items"
                )
        a = float(self.alpha)
        with torch.no_grad():
            dev = module.ego.device
            ego = np.concatenate(
                [np.vstack([gmf.user_vectors_, gmf.item_vectors_]),
                 np.vstack([mlp.user_vectors_, mlp.item_vectors_])], axis=1,
            )
            module.ego.copy_(torch.from_numpy(ego).to(dev))
            _unflatten_tower(module, mlp.tower_weights_)
            out = np.concatenate([a * gmf.output_weights_, (1 - a) * mlp.output_weights_])
            module.output.copy_(torch.from_numpy(out.astype(np.float32)).to(dev))
            module.bias.fill_(a * gmf.output_bias_ + (1 - a) * mlp.output_bias_)

    def _hook(self, module: NCFModule, callback: Any) -> Any:
        def hook(record: dict[str, Any]) -> bool:
            self._store(module)
            return bool(callback(self, record))

        return hook

    def _validator(self, module: NCFModule, valid: Interactions) -> Any:
        from graphrec.evaluation import evaluate

        def validate() -> dict[str, float]:
            self._store(module)
            out = evaluate(self, valid, k=(20,))
            return {k: v for k, v in out.items() if "@" in k}

        return validate

    def _store(self, module: torch.nn.Module) -> None:
        """Copy the module's state into the fitted numpy attributes."""
        assert isinstance(module, NCFModule)
        with torch.no_grad():
            ego = module.ego.detach().float().cpu().numpy()
            out = module.output.detach().float().cpu().numpy()
            tower = [p.detach().float().cpu().numpy().ravel() for p in module.tower.parameters()]
        if not (np.isfinite(ego).all() and np.isfinite(out).all()
                and all(np.isfinite(t).all() for t in tower)):
            raise TrainingError("NCF weights became non-finite; lower the learning rate (lr)")
        g, n = module.gmf_dim, module.n_users
        self.user_vectors_: NDArray[np.float32] = np.ascontiguousarray(ego[:n])
        self.item_vectors_: NDArray[np.float32] = np.ascontiguousarray(ego[n:])
        self.tower_weights_: NDArray[np.float32] = (
            np.concatenate(tower).astype(np.float32) if tower else np.zeros(0, np.float32)
        )
        self.output_weights_: NDArray[np.float32] = np.ascontiguousarray(out)
        self.output_bias_ = float(module.bias.detach().cpu())
        if g:
            self.user_embeddings_ = np.ascontiguousarray(self.user_vectors_[:, :g] * out[:g])
            self.item_embeddings_ = np.ascontiguousarray(self.item_vectors_[:, :g])
        else:
            self.user_embeddings_ = self.user_vectors_
            self.item_embeddings_ = self.item_vectors_
        self.__dict__.pop("_tensor_cache", None)
        self.__dict__.pop("_module_cache", None)

    # ------------------------------------------------------------------ scoring
    def _scoring_module(self) -> NCFModule:
        """An eval-mode :class:`NCFModule` holding the fitted arrays (cached per fit)."""
        key = self.tower_weights_
        cache = self.__dict__.get("_module_cache")
        if cache is None or cache[0] is not key or cache[2] is not self.user_vectors_:
            dev = self._device
            module = NCFModule(
                self.n_users_, self.n_items_, scorer=self.scorer, embedding_dim=self.embedding_dim,
                hidden_sizes=tuple(int(s) for s in self.hidden_sizes), dropout=0.0,
                init_std=1.0, generator=torch.Generator(), device=dev,
            ).eval()
            with torch.no_grad():
                ego = np.vstack([self.user_vectors_, self.item_vectors_])
                module.ego.copy_(torch.from_numpy(ego).to(dev))
                _unflatten_tower(module, self.tower_weights_)
                module.output.copy_(torch.from_numpy(self.output_weights_).to(dev))
                module.bias.fill_(self.output_bias_)
            module.requires_grad_(False)
            cache = (key, module, self.user_vectors_)
            self.__dict__["_module_cache"] = cache
        return cache[1]

    def _score(self, users: NDArray[np.int64], similarity: str | None = None) -> torch.Tensor:
        if similarity is not None:  # retrieval by the GMF part's embeddings
            return super()._score(users, similarity)
        module = self._scoring_module()
        ego = module.ego
        out = torch.empty((len(users), self.n_items_), device=ego.device)
        rows = ego[torch.from_numpy(users).to(ego.device)]
        return module.grid_logits(rows, ego[self.n_users_ :], out)

    def _score_batches(
        self, users: NDArray[np.int64], similarity: str | None, batch_size: int
    ) -> Iterator[tuple[int, NDArray[np.int64], torch.Tensor]]:
        if similarity is not None:  # retrieval by the GMF part's embeddings
            if similarity not in SIMILARITIES:
                raise ValueError(f"similarity must be None or one of {SIMILARITIES}, got {similarity!r}")
            yield from super()._score_batches(users, similarity, batch_size)
            return
        module = self._scoring_module()
        ego = module.ego
        items = ego[self.n_users_ :]
        buffer = torch.empty((min(batch_size, len(users)), self.n_items_), device=ego.device)
        for start in range(0, len(users), batch_size):
            batch = users[start : start + batch_size]
            rows = ego[torch.from_numpy(batch).to(ego.device)]
            yield start, batch, module.grid_logits(rows, items, buffer[: len(batch)])

    def _default_similarity(self) -> str:
        return "dot"

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        state.pop("_module_cache", None)
        return state

    @classmethod
    def _from_state(cls, state: ModelState) -> NCF:
        params = dict(state.params)
        if isinstance(params.get("hidden_sizes"), list):  # JSON stores the tuple as a list
            params["hidden_sizes"] = tuple(params["hidden_sizes"])
        model = super()._from_state(dataclasses.replace(state, params=params))
        assert isinstance(model, NCF)
        return model


def _unflatten_tower(module: NCFModule, flat: NDArray[np.float32]) -> None:
    """Copy a flat ``tower_weights_`` array into ``module``'s tower layers (in place)."""
    at = 0
    for p in module.tower.parameters():
        n = p.numel()
        p.data.copy_(torch.from_numpy(np.asarray(flat[at : at + n], np.float32)).view_as(p))
        at += n
    if at != len(flat):
        raise ValueError(f"tower_weights_ holds {len(flat)} values, the tower needs {at}")
