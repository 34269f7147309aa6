"""LightGCN (He et al., SIGIR 2020): linear propagation over the normalised bipartite graph.

The final embedding of every node is a weighted sum of its propagated ego
embeddings, ``E = sum_k alpha_k A^k E0``, with ``A = D^-1/2 [[0, R], [R^T, 0]] D^-1/2``
(:func:`graphrec.graph.normalized_adjacency`). The propagation runs as torch
sparse CSR products with int32 indices; its backward pass reuses the same
matrix (``A`` is symmetric, so the gradient of ``A X`` is ``A G``), which is
about five times faster than autograd's generic sparse backward.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from graphrec.data.interactions import Interactions
from graphrec.exceptions import TrainingError
from graphrec.graph import normalized_adjacency, to_torch_csr
from graphrec.losses import LOSSES
from graphrec.models.base import EmbeddingRecommender
from graphrec.retrieval import SIMILARITIES
from graphrec.training import LR_DECAYS, fit_embeddings
from graphrec.utils import check_positive_float, check_positive_int, numpy_rng, torch_generator

__all__ = ["LightGCN", "PropagationModule", "propagate"]

logger = logging.getLogger(__name__)


class _SymmetricPropagation(torch.autograd.Function):
    """``sum_k w_k A^k X`` for a symmetric sparse ``A``; backward is the same map of the gradient."""

    @staticmethod
    def forward(
        ctx: Any, x: torch.Tensor, adjacency: torch.Tensor, weights: tuple[float, ...]
    ) -> torch.Tensor:
        ctx.adjacency, ctx.weights = adjacency, weights
        return _combine(x, adjacency, weights)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        return _combine(grad.contiguous(), ctx.adjacency, ctx.weights), None, None


class _RowPropagation(torch.autograd.Function):
    """Rows of ``sum_k w_k A^k X`` plus a weighted L2 penalty on rows of ``X``, fused.

    A training step needs the propagated embeddings of a batch's users, items and
    negatives only, and the L2 term of their ego rows. Autograd would build one
    full-size gradient per gather and add them up; here the backward scatters the
    row gradients into one buffer, propagates it and adds the penalty's gradient in
    place (Gowalla BPR training step, 2 threads, old and new in turns: 0.132 vs 0.158 s).
    """

    @staticmethod
    def forward(
        ctx: Any,
        x: torch.Tensor,
        adjacency: torch.Tensor | None,
        weights: tuple[float, ...],
        rows: torch.Tensor,
        reg_weights: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        out = _combine(x, adjacency, weights).index_select(0, rows)
        if reg_weights is None:
            ego_rows = None
            penalty = x.new_zeros(())
        else:
            ego_rows = x.index_select(0, rows)
            penalty = (ego_rows.square().sum(1) * reg_weights).sum()
        ctx.save_for_backward(rows, reg_weights, ego_rows)
        ctx.adjacency, ctx.weights, ctx.shape = adjacency, weights, x.shape
        return out, penalty

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor, grad_penalty: torch.Tensor):
        rows, reg_weights, ego_rows = ctx.saved_tensors
        scattered = grad_out.new_zeros(ctx.shape)
        scattered.index_add_(0, rows, grad_out)
        grad = _combine(scattered, ctx.adjacency, ctx.weights)
        if ego_rows is not None:
            grad.index_add_(0, rows, ego_rows * (2 * grad_penalty * reg_weights)[:, None])
        return grad, None, None, None, None


# Column width of the blocks the CPU propagation runs in. MKL's CSR x dense product
# gathers one row of the dense operand per non-zero: 16 float32 columns are one cache
# line, and a block of all rows (4.5 MB on Gowalla) stays in cache where the full
# 64 columns (18 MB) do not. Gowalla BPR training step, 2 threads, paired runs:
# 16 columns 0.75x the time of unblocked, 32 columns 0.85x, 8 columns 0.90x.
_CPU_BLOCK = 16


def _combine(
    x: torch.Tensor, adjacency: torch.Tensor | None, weights: tuple[float, ...]
) -> torch.Tensor:
    width = x.shape[1]
    if adjacency is None or x.device.type != "cpu" or width <= _CPU_BLOCK:
        return _combine_block(x, adjacency, weights)
    blocks = [
        _combine_block(x[:, s : s + _CPU_BLOCK].contiguous(), adjacency, weights)
        for s in range(0, width, _CPU_BLOCK)
    ]
    return torch.cat(blocks, dim=1)


def _combine_block(
    x: torch.Tensor, adjacency: torch.Tensor | None, weights: tuple[float, ...]
) -> torch.Tensor:
    out = x * weights[0]
    h = x
    last = len(weights) - 1
    for k, w in enumerate(weights[1:], start=1):
        if k == last:  # accumulate the last layer inside the product: no extra buffer
            return torch.addmm(out, adjacency, h, alpha=w)
        h = adjacency @ h
        out = out.add_(h, alpha=w)
    return out


def propagate(
    x: torch.Tensor, adjacency: torch.Tensor | None, weights: tuple[float, ...]
) -> torch.Tensor:
    """LightGCN layer combination ``sum_k weights[k] * A^k x`` (differentiable in ``x``).

    Parameters
    ----------
    x : Tensor, shape (n_nodes, d)
    adjacency : sparse Tensor (n_nodes, n_nodes), symmetric, or None when ``len(weights) == 1``
    weights : tuple of float
        One weight per layer, layer 0 (the ego embedding) first.

    Examples
    --------
    >>> import torch
    >>> a = torch.tensor([[0.0, 1.0], [1.0, 0.0]]).to_sparse_csr()
    >>> propagate(torch.tensor([[1.0], [0.0]]), a, (0.5, 0.5)).ravel().tolist()
    [0.5, 0.5]
    """
    if len(weights) == 1:
        return x * weights[0]
    return _SymmetricPropagation.apply(x, adjacency, tuple(float(w) for w in weights))


class PropagationModule(torch.nn.Module):
    """Trainable ego embeddings plus a fixed propagation (the engine's module protocol).

    ``forward()`` returns all final node embeddings, users first; ``ego`` is the
    layer-0 parameter. ``forward(rows, reg_weights)`` returns only the final
    embeddings of ``rows`` and the penalty ``sum_r reg_weights[r] * |ego[rows[r]]|^2``
    (what a training step needs, at lower cost). With one layer weight it is plain
    matrix factorisation.
    """

    def __init__(
        self,
        n_users: int,
        n_items: int,
        embedding_dim: int,
        adjacency: torch.Tensor | None,
        layer_weights: tuple[float, ...],
        *,
        init_std: float,
        generator: torch.Generator,
        device: torch.device,
    ) -> None:
        super().__init__()
        self.n_users, self.n_items = n_users, n_items
        init = torch.randn(n_users + n_items, embedding_dim, generator=generator) * init_std
        self.ego = torch.nn.Parameter(init.to(device))
        self.adjacency = adjacency
        self.layer_weights = layer_weights

    def forward(
        self, rows: torch.Tensor | None = None, reg_weights: torch.Tensor | None = None
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        if rows is None:
            return propagate(self.ego, self.adjacency, self.layer_weights)
        weights = tuple(float(w) for w in self.layer_weights)
        return _RowPropagation.apply(self.ego, self.adjacency, weights, rows, reg_weights)


class _GraphEmbeddingModel(EmbeddingRecommender):
    """Shared fit for LightGCN and MF: build the module, run the engine, keep numpy arrays."""

    def _layer_weights(self) -> tuple[float, ...]:
        raise NotImplementedError

    def fit(
        self, train: Interactions, valid: Interactions | None = None, *, callbacks: Any = ()
    ) -> _GraphEmbeddingModel:
        """Fit on ``train`` (refits from scratch); early-stop on ``valid`` when given.

        Parameters
        ----------
        train : Interactions
        valid : Interactions, optional
            Validation interactions on train's IdMaps: Recall@20 (graphrec.evaluate,
            train items masked) is computed every ``eval_every`` epochs, the best
            state is restored at the end and ``patience`` applies.
        callbacks : sequence of callables, optional
            ``callback(model, record)`` after every epoch, with the model's
            ``user_embeddings_``/``item_embeddings_`` set to the current state and
            ``record`` the epoch's history entry; returning True stops training.
            (Used by the benchmarks for accuracy-vs-time curves.)

        Returns
        -------
        self
        """
        self._callbacks = tuple(callbacks)
        try:
            return super().fit(train, valid)
        finally:
            self._callbacks = ()

    def _default_similarity(self) -> str:
        if self.similarity is not None:
            return self.similarity
        return "cosine" if self.loss == "infonce" else "dot"

    def _check_params(self) -> None:
        check_positive_int(self.embedding_dim, "embedding_dim")
        check_positive_int(self.epochs, "epochs")
        check_positive_int(self.batch_size, "batch_size")
        check_positive_int(self.n_negatives, "n_negatives")
        check_positive_int(self.neg_pool, "neg_pool", minimum=0)
        check_positive_int(self.lr_warmup, "lr_warmup", minimum=0)
        check_positive_int(self.eval_every, "eval_every")
        check_positive_float(self.lr, "lr")
        check_positive_float(self.reg, "reg", allow_zero=True)
        check_positive_float(self.temperature, "temperature")
        check_positive_float(self.init_std, "init_std")
        check_positive_int(self.hard_negatives, "hard_negatives", minimum=0)
        if self.hard_negatives and (
            self.loss != "bpr" or not self.neg_pool or self.hard_negatives > self.neg_pool
        ):
            raise ValueError(
                f"hard_negatives={self.hard_negatives!r} needs loss='bpr' and 0 < hard_negatives <= neg_pool "
                f"(got loss={self.loss!r}, neg_pool={self.neg_pool!r})"
            )
        for name in ("hard_fraction", "initial_fraction", "lr_min_ratio", "average_fraction"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1:
                raise ValueError(f"{name} must be a number in [0, 1], got {v!r}")
        if self.initial_loss is not None and self.initial_loss not in LOSSES:
            raise ValueError(
                f"initial_loss must be None or one of {LOSSES}, got {self.initial_loss!r}"
            )
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        if self.lr_decay not in LR_DECAYS:
            raise ValueError(f"lr_decay must be one of {LR_DECAYS}, got {self.lr_decay!r}")
        if self.similarity is not None and self.similarity not in SIMILARITIES:
            raise ValueError(
                f"similarity must be None or one of {SIMILARITIES}, got {self.similarity!r}"
            )
        if self.time_budget is not None:
            check_positive_float(self.time_budget, "time_budget")
        if self.patience is not None:
            check_positive_int(self.patience, "patience")
        self._layer_weights()  # validates n_layers / layer_weights

    def _adjacency(self, train: Interactions, device: torch.device) -> torch.Tensor | None:
        return to_torch_csr(normalized_adjacency(train), device=device)

    def _fit(self, train: Interactions, valid: Interactions | None) -> None:
        device = self._device
        weights = self._layer_weights()
        adjacency = self._adjacency(train, device) if len(weights) > 1 else None
        seed = self.random_state
        gen = torch_generator(None if seed is None else int(seed))
        rng = numpy_rng(seed)
        module = PropagationModule(
            train.n_users,
            train.n_items,
            self.embedding_dim,
            adjacency,
            weights,
            init_std=self.init_std,
            generator=gen,
            device=device,
        )
        validate = None
        if valid is not None and valid.nnz > 0:
            validate = self._validator(module, valid)
        hooks = [self._hook(module, cb) for cb in getattr(self, "_callbacks", ())]
        result = fit_embeddings(
            module,
            train,
            loss=self.loss,
            epochs=self.epochs,
            batch_size=self.batch_size,
            n_negatives=self.n_negatives,
            neg_pool=self.neg_pool,
            hard_negatives=self.hard_negatives,
            hard_fraction=self.hard_fraction,
            initial_loss=self.initial_loss,
            initial_fraction=self.initial_fraction,
            lr=self.lr,
            reg=self.reg,
            temperature=self.temperature,
            lr_warmup=self.lr_warmup,
            lr_decay=self.lr_decay,
            lr_min_ratio=self.lr_min_ratio,
            average_fraction=self.average_fraction,
            time_budget=self.time_budget,
            validate=validate,
            eval_every=self.eval_every,
            patience=self.patience,
            random_state=rng,
            verbose=self.verbose,
            callbacks=hooks,
            desc=type(self).__name__,
        )
        self._store(module)
        self.history_ = result.history
        self.loss_history_ = [h["loss"] for h in result.history]
        self.best_epoch_ = result.best_epoch
        self.stopped_ = result.stopped

    def _hook(self, module: PropagationModule, callback: Any):
        def hook(record: dict) -> bool:
            self._store(module)
            return bool(callback(self, record))

        return hook

    def _validator(self, module: PropagationModule, valid: Interactions):
        from graphrec.evaluation import evaluate

        def validate() -> dict[str, float]:
            self._store(module)
            out = evaluate(self, valid, k=(20,))
            return {k: v for k, v in out.items() if "@" in k}

        return validate

    def _store(self, module: PropagationModule) -> None:
        with torch.no_grad():
            final = module()
        if not torch.isfinite(final).all():
            raise TrainingError("embeddings became non-finite; lower the learning rate (lr)")
        arr = final.detach().float().cpu().numpy()
        self.user_embeddings_: NDArray[np.float32] = np.ascontiguousarray(arr[: module.n_users])
        self.item_embeddings_: NDArray[np.float32] = np.ascontiguousarray(arr[module.n_users :])
        # the base class caches device tensors keyed by id() of these arrays; ids of freed
        # arrays can be reused, so drop the cache whenever the embeddings change
        self.__dict__.pop("_tensor_cache", None)


_TRAIN_DOC = """
    loss : {"bpr", "bce", "infonce"}, default "bpr"
        Training objective (:mod:`graphrec.losses`). BPR/BCE score by dot product,
        InfoNCE by cosine over ``temperature``.
    n_negatives : int, default 1
        Negatives per positive, rejecting the user's seen items.
    neg_pool : int, default 0
        If > 0, score each batch against one shared pool of this many uniform
        items instead (cheap many-negative BPR/InfoNCE).
    hard_negatives : int, default 0
        With BPR and ``neg_pool``: keep only each user's hardest pool items
        (highest scores) in the loss, during the first ``hard_fraction`` of training.
    hard_fraction : float, default 1.0
        Share of training (of ``epochs`` or ``time_budget``) with hard negatives.
    initial_loss : {None, "bpr", "bce", "infonce"}, default None
        Loss for the first ``initial_fraction`` of training, before ``loss``
        (InfoNCE then BPR trains MF well on Gowalla).
    initial_fraction : float, default 0.0
    temperature : float, default 0.1
        InfoNCE temperature.
    reg : float, default 1e-4
        Weight of the L2 penalty on the batch's ego embeddings.
    lr : float
        Adam learning rate.
    lr_warmup : int, default 0
        Linear warm-up steps.
    lr_decay : {None, "cosine", "linear"}, default None
        Decay over ``epochs`` or ``time_budget``, whichever ends first.
    lr_min_ratio : float, default 0.0
        Where the decay ends, as a fraction of ``lr``.
    average_fraction : float, default 0.0
        Stochastic weight averaging: the fitted embeddings come from the mean of
        the ego embeddings at the end of every epoch in the last
        ``average_fraction`` of training (0 keeps the last state).
    epochs : int
        Maximum passes over the training edges.
    batch_size : int, default 8192
    time_budget : float, optional
        Wall-clock seconds for the whole fit.
    patience : int, optional
        With ``fit(train, valid)``: stop after this many validations without a
        better Recall@20; the best state is restored in any case.
    eval_every : int, default 1
        Validate every this many epochs.
    similarity : {None, "dot", "cosine"}, default None
        Scoring; None follows the loss (cosine for InfoNCE, else dot).
    init_std : float, default 0.1
        Standard deviation of the normal initialisation.
    random_state : int, optional
        Seeds initialisation, shuffling and sampling; equal seeds give identical embeddings.
    device : str, default "auto"
        "auto" (CUDA when available), "cpu" or "cuda[:n]".
    verbose : bool, default False
        Show a progress bar.
"""


class LightGCN(_GraphEmbeddingModel):
    __doc__ = f"""LightGCN recommender (propagated embeddings, layer combination).

    Parameters
    ----------
    embedding_dim : int, default 64
    n_layers : int, default 3
        Propagation layers (0 gives matrix factorisation).
    layer_weights : sequence of float, optional
        ``n_layers + 1`` weights of the layer combination; default the mean.
    {_TRAIN_DOC}
    Attributes
    ----------
    user_embeddings_ : ndarray of float32, shape (n_users, embedding_dim)
        Final (propagated) user embeddings.
    item_embeddings_ : ndarray of float32, shape (n_items, embedding_dim)
    history_ : list of dict
        Per epoch: epoch, loss, seconds, elapsed, lr, steps, metrics (when validated).
    loss_history_ : list of float
    best_epoch_ : int or None
        Epoch restored after validation.
    stopped_ : str
        Why training ended.

    Examples
    --------
    >>> import graphrec as gr
    >>> x = gr.Interactions.from_arrays([0, 0, 1, 2], [0, 1, 1, 2], n_users=3, n_items=3)
    >>> m = gr.LightGCN(embedding_dim=8, epochs=5, batch_size=4, random_state=0).fit(x)
    >>> m.user_embeddings_.shape
    (3, 8)
    """

    def __init__(
        self,
        *,
        embedding_dim: int = 64,
        n_layers: int = 3,
        layer_weights: Any = None,
        loss: str = "bpr",
        n_negatives: int = 1,
        neg_pool: int = 0,
        hard_negatives: int = 0,
        hard_fraction: float = 1.0,
        initial_loss: str | None = None,
        initial_fraction: float = 0.0,
        temperature: float = 0.1,
        reg: float = 1e-4,
        lr: float = 1e-2,
        lr_warmup: int = 0,
        lr_decay: str | None = None,
        lr_min_ratio: float = 0.0,
        average_fraction: float = 0.0,
        epochs: int = 100,
        batch_size: int = 8192,
        time_budget: float | None = None,
        patience: int | None = None,
        eval_every: int = 1,
        similarity: str | None = None,
        init_std: float = 0.1,
        random_state: int | None = None,
        device: str = "auto",
        verbose: bool = False,
    ) -> None:
        self.embedding_dim = embedding_dim
        self.n_layers = n_layers
        self.layer_weights = layer_weights
        self.loss = loss
        self.n_negatives = n_negatives
        self.neg_pool = neg_pool
        self.hard_negatives = hard_negatives
        self.hard_fraction = hard_fraction
        self.initial_loss = initial_loss
        self.initial_fraction = initial_fraction
        self.temperature = temperature
        self.reg = reg
        self.lr = lr
        self.lr_warmup = lr_warmup
        self.lr_decay = lr_decay
        self.lr_min_ratio = lr_min_ratio
        self.average_fraction = average_fraction
        self.epochs = epochs
        self.batch_size = batch_size
        self.time_budget = time_budget
        self.patience = patience
        self.eval_every = eval_every
        self.similarity = similarity
        self.init_std = init_std
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    def _layer_weights(self) -> tuple[float, ...]:
        n = check_positive_int(self.n_layers, "n_layers", minimum=0)
        if self.layer_weights is None:
            return tuple([1.0 / (n + 1)] * (n + 1))
        w = np.asarray(self.layer_weights, dtype=np.float64).ravel()
        if len(w) != n + 1 or not np.isfinite(w).all():
            raise ValueError(
                f"layer_weights must hold n_layers + 1 = {n + 1} finite numbers, got {self.layer_weights!r}"
            )
        return tuple(float(v) for v in w)
