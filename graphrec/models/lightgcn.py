"""LightGCN (He et al., SIGIR 2020): linear propagation over the normalised bipartite graph.

The final embedding of every node is a weighted sum of its propagated ego
embeddings, ``E = sum_k alpha_k A^k E0``, with ``A = D^-1/2 [[0, R], [R^T, 0]] D^-1/2``
(:func:`graphrec.graph.normalized_adjacency`). The propagation runs as torch
sparse CSR products with int32 indices; its backward pass reuses the same
matrix (``A`` is symmetric, so the gradient of ``A X`` is ``A G``), which is
about five times faster than autograd's generic sparse backward.

One piece at ~400 lines, a third of it docstrings: the propagation kernels and the
two models built on them (LightGCN and, through ``_GraphEmbeddingModel``, MF) change
together, and the kernels' speed notes belong next to their only caller.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from graphrec.data.interactions import Interactions
from graphrec.exceptions import TrainingError
from graphrec.graph import normalized_adjacency, to_torch_csr
from graphrec.models.base import EmbeddingRecommender
from graphrec.retrieval import SIMILARITIES
from graphrec.training import TrainableModel, engine_parameters, fit_embeddings
from graphrec.utils import check_positive_float, check_positive_int, numpy_rng, torch_generator

__all__ = ["LightGCN", "PropagationModule", "perturbed_propagate", "propagate"]

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
            return torch.addmm(out, adjacency, h, alpha=w)  # type: ignore[arg-type]  # set with > 1 weight
        h = adjacency @ h  # type: ignore[operator]
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


class _PerturbedPropagation(torch.autograd.Function):
    """SimGCL/XSimGCL's noisy propagation: ``sum_k w_k E_k`` and ``E_layer``, where
    ``E_0 = X`` and ``E_k = A E_(k-1) + eps * sign(A E_(k-1)) * normalize(U_k)``.

    The noise does not depend on ``X`` where the sign is constant (everywhere but a
    null set), so the Jacobian is the clean propagation's: the backward is
    ``sum_k w_k A^k G + A^layer G_layer`` (``A`` symmetric), with no stored activations.
    """

    @staticmethod
    def forward(
        ctx: Any,
        x: torch.Tensor,
        adjacency: torch.Tensor | None,
        weights: tuple[float, ...],
        layer: int,
        eps: float,
        generator: torch.Generator,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        out = x * weights[0]
        h, at_layer = x, x
        for k, w in enumerate(weights[1:], start=1):
            h = adjacency @ h  # type: ignore[operator]  # set whenever there is more than one weight
            if eps:
                noise = torch.rand(h.shape, generator=generator, device=generator.device).to(h.device)
                h = h + torch.sign(h) * torch.nn.functional.normalize(noise, dim=1) * eps
            out = out + h * w
            if k == layer:
                at_layer = h
        ctx.adjacency, ctx.weights, ctx.layer = adjacency, weights, layer
        return out, at_layer.clone() if layer == 0 else at_layer

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor, grad_layer: torch.Tensor):
        grad = _combine(grad_out.contiguous(), ctx.adjacency, ctx.weights)
        if ctx.layer == 0:
            grad = grad + grad_layer
        else:
            only = tuple([0.0] * ctx.layer + [1.0])
            grad = grad + _combine(grad_layer.contiguous(), ctx.adjacency, only)
        return grad, None, None, None, None, None


def perturbed_propagate(
    x: torch.Tensor,
    adjacency: torch.Tensor | None,
    weights: tuple[float, ...],
    *,
    eps: float,
    layer: int,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Noise-perturbed propagation of SimGCL / XSimGCL (Yu et al. 2022, 2023).

    Each layer adds uniform noise of norm ``eps`` in the orthant of its output:
    ``E_k = A E_(k-1) + eps * sign(A E_(k-1)) * normalize(U_k)``, ``U_k ~ U[0, 1)``
    entry-wise, each row normalised to unit length (the noise then propagates to the
    later layers, as in XSimGCL's code). With ``eps = 0`` it is :func:`propagate`.

    Parameters
    ----------
    x : Tensor, shape (n_nodes, d)
        Ego embeddings.
    adjacency : sparse Tensor (n_nodes, n_nodes), symmetric, or None with one weight
    weights : tuple of float
        Layer-combination weights, layer 0 first.
    eps : float
        Noise norm per row and layer.
    layer : int
        Which layer's perturbed embeddings to return as well (0: ``x``).
    generator : torch.Generator
        Source of the noise.

    Returns
    -------
    final : Tensor, shape (n_nodes, d)
        ``sum_k weights[k] * E_k``.
    at_layer : Tensor, shape (n_nodes, d)
        ``E_layer``.

    Raises
    ------
    ValueError
        ``layer`` beyond the last layer.

    Examples
    --------
    >>> import torch
    >>> a = torch.tensor([[0.0, 1.0], [1.0, 0.0]]).to_sparse_csr()
    >>> x = torch.tensor([[1.0], [0.0]])
    >>> final, first = perturbed_propagate(x, a, (0.5, 0.5), eps=0.0, layer=1, generator=torch.Generator())
    >>> final.ravel().tolist(), first.ravel().tolist()
    ([0.5, 0.5], [0.0, 1.0])
    """
    if not 0 <= layer < len(weights):
        raise ValueError(f"contrast_layer must be in [0, {len(weights) - 1}] (the layers), got {layer}")
    return _PerturbedPropagation.apply(x, adjacency, tuple(float(w) for w in weights), int(layer),
                                       float(eps), generator)


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
        self.noise_generator = generator  # continues the seeded stream (contrastive noise)

    def forward(
        self, rows: torch.Tensor | None = None, reg_weights: torch.Tensor | None = None
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        if rows is None:
            return propagate(self.ego, self.adjacency, self.layer_weights)
        weights = tuple(float(w) for w in self.layer_weights)
        return _RowPropagation.apply(self.ego, self.adjacency, weights, rows, reg_weights)

    def perturbed(self, eps: float, layer: int) -> tuple[torch.Tensor, torch.Tensor]:
        """All final node embeddings of one noise-perturbed propagation, and its layer ``layer``
        (:func:`perturbed_propagate`; the engine's contrastive option)."""
        return perturbed_propagate(
            self.ego, self.adjacency, self.layer_weights, eps=eps, layer=layer, generator=self.noise_generator
        )


class _GraphEmbeddingModel(EmbeddingRecommender, TrainableModel):
    """Shared fit for LightGCN and MF: build the module, run the engine, keep numpy arrays.

    The engine's hyperparameters are :class:`graphrec.training.TrainConfig`'s fields
    (published by :func:`graphrec.training.engine_parameters` on each subclass); the
    rest of the fit is the same for every subclass, which only says which layer
    weights it propagates with.
    """

    def _layer_weights(self) -> tuple[float, ...]:
        raise NotImplementedError(f"{type(self).__name__} must implement _layer_weights")

    def fit(
        self,
        train: Interactions,
        valid: Interactions | None = None,
        *,
        callbacks: Any = (),
        checkpoint_dir: str | os.PathLike | None = None,
        checkpoint_every: int = 1,
        resume: str | os.PathLike | None = None,
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
        checkpoint_dir : path, optional
            Write a training checkpoint here (atomically) every ``checkpoint_every``
            epochs and at the end: parameters, optimiser, schedule position, sampler
            random state, history (see :mod:`graphrec.training.checkpoint`).
        checkpoint_every : int, default 1
        resume : path, optional
            Continue a killed run from the newest checkpoint in this directory (which
            must come from the same hyperparameters and data; checkpoints go on being
            written there unless ``checkpoint_dir`` says otherwise). With the same
            ``random_state`` the fit ends with the same embeddings as an uninterrupted
            one; ``time_budget`` counts the time of every part. A directory without
            checkpoints starts afresh, so the same call starts and resumes a run.

        Returns
        -------
        self

        Raises
        ------
        graphrec.training.CheckpointError
            ``resume`` holds a checkpoint of other settings or data, or an unreadable one.
        """
        self._callbacks = tuple(callbacks)
        self._run = {"checkpoint_dir": checkpoint_dir, "checkpoint_every": checkpoint_every,
                     "resume": resume}
        try:
            super().fit(train, valid)
            return self
        finally:
            self._callbacks = ()
            self._run = {}

    def _default_similarity(self) -> str:
        if self.similarity is not None:
            return str(self.similarity)
        return "cosine" if self.loss == "infonce" else "dot"

    def _check_params(self) -> None:
        check_positive_int(self.embedding_dim, "embedding_dim")
        self._train_config()  # validates the engine's settings
        check_positive_float(self.init_std, "init_std")
        if self.similarity is not None and self.similarity not in SIMILARITIES:
            raise ValueError(
                f"similarity must be None or one of {SIMILARITIES}, got {self.similarity!r}"
            )
        n_layers = len(self._layer_weights()) - 1  # validates n_layers / layer_weights
        layer = self.contrast_layer
        if self.contrastive_weight and layer is not None and layer > n_layers:
            raise ValueError(f"contrast_layer must be <= n_layers = {n_layers}, got {layer!r}")

    def _build_module(
        self, train: Interactions, device: torch.device, generator: torch.Generator
    ) -> PropagationModule:
        """A fresh :class:`PropagationModule` over ``train``'s normalised graph."""
        weights = self._layer_weights()
        adjacency = None
        if len(weights) > 1:
            adjacency = to_torch_csr(normalized_adjacency(train), device=device)
        return PropagationModule(
            train.n_users,
            train.n_items,
            self.embedding_dim,
            adjacency,
            weights,
            init_std=self.init_std,
            generator=generator,
            device=device,
        )

    def _fit(self, train: Interactions, valid: Interactions | None) -> None:
        seed = self.random_state
        module = self._build_module(
            train, self._device, torch_generator(None if seed is None else int(seed))
        )
        validate = None
        if valid is not None and valid.nnz > 0:
            validate = self._validator(module, valid)
        hooks = [self._hook(module, cb) for cb in getattr(self, "_callbacks", ())]
        result = fit_embeddings(
            module,
            train,
            self._fit_config(train),
            validate=validate,
            random_state=numpy_rng(seed),
            verbose=self.verbose,
            callbacks=hooks,
            desc=type(self).__name__,
            fingerprint=self._resume_fingerprint(),
            **getattr(self, "_run", {}),
        )
        self._finish_training(module, result.history, result.stopped, result.best_epoch)

    def _hook(self, module: torch.nn.Module, callback: Any) -> Callable[[dict[str, Any]], bool]:
        def hook(record: dict[str, Any]) -> bool:
            self._store(module)
            return bool(callback(self, record))

        return hook

    def _validator(
        self, module: torch.nn.Module, valid: Interactions
    ) -> Callable[[], dict[str, float]]:
        from graphrec.evaluation import evaluate

        def validate() -> dict[str, float]:
            self._store(module)
            out = evaluate(self, valid, k=(20,))
            return {k: v for k, v in out.items() if "@" in k}

        return validate

    def _store(self, module: torch.nn.Module) -> None:
        with torch.no_grad():
            final = module()
        if not torch.isfinite(final).all():
            raise TrainingError("embeddings became non-finite; lower the learning rate (lr)")
        arr = final.detach().float().cpu().numpy()
        self.user_embeddings_: NDArray[np.float32] = np.ascontiguousarray(arr[: module.n_users])
        self.item_embeddings_: NDArray[np.float32] = np.ascontiguousarray(arr[module.n_users :])
        # the base class caches device tensors of the embedding arrays: drop them with the arrays
        self.__dict__.pop("_tensor_cache", None)


#: numpydoc entries of the parameters every engine-trained embedding model shares (not the engine's)
_MODEL_DOC = """    similarity : {None, "dot", "cosine"}, default None
        Scoring; None follows the loss (cosine for InfoNCE, else dot).
    init_std : float, default 0.1
        Standard deviation of the normal initialisation.
    random_state : int or None, default 0
        Seeds initialisation, shuffling and sampling; equal seeds give identical embeddings
        (None: fresh randomness each fit).
    device : str, default "auto"
        "auto" (CUDA when available), "cpu" or "cuda[:n]".
    verbose : bool, default False
        Show a progress bar."""


@engine_parameters(after="layer_weights")
class LightGCN(_GraphEmbeddingModel):
    __doc__ = f"""LightGCN recommender (propagated embeddings, layer combination).

    Parameters
    ----------
    embedding_dim : int, default 64
    n_layers : int, default 3
        Propagation layers (0 gives matrix factorisation).
    layer_weights : sequence of float, optional
        ``n_layers + 1`` weights of the layer combination; default the mean.
    {{engine_parameters}}
{_MODEL_DOC}

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
    batch_size_, neg_pool_ : int
        The batch size and negative pool used: the settings, bounded by the
        training data's interactions and items (logged when they bind).

    Notes
    -----
    The engine's parameters (``loss`` to ``eval_every``) are the fields of
    :class:`graphrec.training.TrainConfig`, documented there once.

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
        similarity: str | None = None,
        init_std: float = 0.1,
        random_state: int | None = 0,
        device: str = "auto",
        verbose: bool = False,
        **engine: Any,
    ) -> None:
        self.embedding_dim = embedding_dim
        self.n_layers = n_layers
        self.layer_weights = layer_weights
        self.similarity = similarity
        self.init_std = init_std
        self.random_state = random_state
        self.device = device
        self.verbose = verbose
        self._set_engine_params(engine)

    #: cold start folds a new user in by one propagation step (see Recommender.fold_in)
    fold_in_default = "propagation"

    def explain_weighting(self) -> str:
        """"normalized" (the propagation's 1/sqrt(d_u d_i) walk weights) when the model
        propagates (``n_layers > 0``), else "count"."""
        return "normalized" if (self.n_layers or 0) > 0 else "count"

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
