"""The engine's per-step pieces: the rows a batch scores, its objective, one step, Adam, the lr.

Small functions a loop (:class:`graphrec.training.Trainer`) or a data-parallel
wrapper (:mod:`graphrec.distributed`) combines:

* :func:`batch_rows` / :func:`batch_objective` -- the rows one batch scores and its
  data term; :func:`batch_loss` -- the same objective from full embedding tables;
* :func:`train_step` -- forward, loss, backward, optimiser step, finiteness check;
* :func:`adam` -- the default optimiser; :func:`learning_rate` -- warm-up and decay;
* :func:`cpu_threads` -- the intra-op thread count a fit runs with.

A *module* is any ``torch.nn.Module`` whose ``forward()`` returns the final node
embeddings (users first, then items, shape ``(n_users + n_items, d)``), whose
``forward(rows, reg_weights)`` returns the final embeddings of ``rows`` and the
L2 penalty ``sum_r reg_weights[r] * |ego[rows[r]]|^2``, and whose ``ego``
attribute is the layer-0 embedding parameter.
LightGCN propagates; MF is the same module with zero layers.

A module whose scores are not the dot product of its rows (:class:`graphrec.NCF`'s
MLP tower) also defines ``score_pairs(user_rows, item_rows) -> logits``, broadcasting
over leading dimensions; BPR and BCE then score every (user, item) pair through it
(:func:`batch_objective`'s ``scorer``). Modules without it (LightGCN, MF) take the
dot-product path unchanged.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable, Iterator
from typing import Any

import torch

from graphrec.exceptions import TrainingError
from graphrec.losses import (
    LOSSES,
    bce_loss,
    bpr_loss,
    cross_view_loss,
    infonce_loss,
    pool_bpr_loss,
)
from graphrec.sampling import Batch

__all__ = [
    "adam",
    "batch_loss",
    "batch_objective",
    "batch_rows",
    "contrastive_loss",
    "cpu_threads",
    "learning_rate",
    "train_step",
]

# Below this many embedding parameters a step is a few small kernels: one thread avoids
# OpenMP hand-offs, which cost more than they save there (and a lot on a busy machine).
_SMALL = 1_000_000


def _unwrap(module: torch.nn.Module) -> Any:
    """The module inside a ``DistributedDataParallel`` wrapper (or ``module`` itself).

    Typed ``Any``: callers read the engine protocol's ``ego`` and ``n_users``.
    """
    return getattr(module, "module", module)  # DistributedDataParallel keeps the model in .module


@contextlib.contextmanager
def cpu_threads(n: int | None = None) -> Iterator[None]:
    """Run a block with ``n`` intra-op threads (default: the CPUs this process may use).

    torch may count the host's cores inside a container limited to fewer; this
    caps the thread count at the CPU affinity set, then restores it.
    """
    old = torch.get_num_threads()
    if n is None:
        try:
            n = len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover - not on Linux
            n = os.cpu_count() or old
        n = min(old, n)
    torch.set_num_threads(max(1, n))
    try:
        yield
    finally:
        torch.set_num_threads(old)


def batch_rows(
    batch: Batch, n_users: int, *, reg: float = 0.0, dtype: torch.dtype = torch.float32
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The node rows a batch scores and the L2 weight of each (None without ``reg``).

    Rows are the batch's users, then its positive items, then its negatives
    (flattened), as node indices (items after users). The L2 term is LightGCN's:
    ``(|u|^2 + |i|^2) / 2B`` over the batch plus ``|j|^2 / 2N`` over its N
    negatives (per-pair negatives count once per pair, averaged over K; a shared
    pool once per batch).
    """
    b = len(batch.users)
    j = batch.negatives.reshape(-1)
    rows = torch.cat([batch.users, batch.items + n_users, j + n_users])
    if not reg:
        return rows, None
    n_neg = len(j) if batch.shared else b * max(batch.negatives.shape[-1], 1)
    weights = torch.empty(len(rows), dtype=dtype, device=rows.device)
    weights[: 2 * b] = 1.0 / (2 * b)
    weights[2 * b :] = 1.0 / (2 * n_neg)
    return rows, weights


def batch_objective(
    scored: torch.Tensor,
    batch: Batch,
    *,
    loss: str = "bpr",
    temperature: float = 0.1,
    hard: int = 0,
    scorer: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
) -> torch.Tensor:
    """The data term of one batch from the final embeddings of :func:`batch_rows`.

    Parameters
    ----------
    scored : Tensor, shape (len(rows), d)
        Final embeddings of ``batch_rows(batch, n_users)[0]``, in that order.
    batch : Batch
    loss : {"bpr", "bce", "infonce"}
        BPR and BCE score by dot product; InfoNCE by cosine over ``temperature``.
        With a shared pool every user is scored against the whole pool.
    hard : int, default 0
        BPR with a shared pool only: keep each user's ``hard`` highest-scoring pool
        items (see :func:`graphrec.losses.pool_bpr_loss`).
    scorer : callable, optional
        ``scorer(user_rows, item_rows) -> logits`` broadcasting over leading
        dimensions (a module's ``score_pairs``): BPR and BCE score pairs through it
        instead of the dot product (a shared pool scores every user against every
        pool item). Other losses need dot products and raise ``ValueError``.

    Returns
    -------
    Tensor, scalar
    """
    b = len(batch.users)
    ue, ie, je = scored[:b], scored[b : 2 * b], scored[2 * b :]
    if not batch.shared:
        je = je.reshape(*batch.negatives.shape, scored.shape[-1])
    if scorer is not None:
        if loss not in ("bpr", "bce"):
            raise ValueError(
                f"loss must be 'bpr' or 'bce' for a module with its own pair scorer, got {loss!r}"
            )
        pos = scorer(ue, ie)
        neg = scorer(ue[:, None, :], je[None] if batch.shared else je)
        return bpr_loss(pos, neg) if loss == "bpr" else bce_loss(pos, neg)
    if loss == "infonce":
        if batch.negatives.numel() == 0:
            return infonce_loss(ue, ie, None, temperature=temperature)
        jp = je if batch.shared else je.reshape(-1, je.shape[-1])
        return infonce_loss(ue, ie, jp, temperature=temperature)
    if loss == "bpr" and batch.shared:
        return pool_bpr_loss(ue, ie, je, hard=min(hard, len(je)))
    if loss in ("bpr", "bce"):
        pos = (ue * ie).sum(-1)
        neg = ue @ je.T if batch.shared else torch.einsum("bd,bkd->bk", ue, je)
        return bpr_loss(pos, neg) if loss == "bpr" else bce_loss(pos, neg)
    raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")


def batch_loss(
    final: torch.Tensor,
    ego: torch.Tensor,
    n_users: int,
    batch: Batch,
    *,
    loss: str = "bpr",
    reg: float = 1e-4,
    temperature: float = 0.1,
    hard: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Objective of one batch from full embedding tables.

    The reference form of what :func:`train_step` computes with the module's
    fused row output (:func:`batch_rows`, :func:`batch_objective`).

    Parameters
    ----------
    final : Tensor, shape (n_users + n_items, d)
        Node embeddings used for scoring (after propagation).
    ego : Tensor, same shape
        Layer-0 embeddings, L2-regularised with LightGCN's weighting (see
        :func:`batch_rows`).
    n_users : int
    batch : Batch
    loss, temperature, hard : see :func:`batch_objective`.
    reg : float
        Weight of the L2 term.

    Returns
    -------
    total, data_loss : Tensor
        The loss to minimise and its data part (without the L2 term).
    """
    rows, weights = batch_rows(batch, n_users, reg=reg, dtype=ego.dtype)
    data = batch_objective(final[rows], batch, loss=loss, temperature=temperature, hard=hard)
    if weights is None:
        return data, data
    penalty = (ego[rows].square().sum(1) * weights).sum()
    return data + reg * penalty, data


def contrastive_loss(
    module: torch.nn.Module,
    batch: Batch,
    *,
    eps: float,
    temperature: float,
    layer: int | None,
) -> tuple[torch.Tensor | None, torch.Tensor]:
    """The SimGCL / XSimGCL term of one batch, and the final embeddings the main loss uses.

    ``layer`` an int (XSimGCL): one perturbed propagation; its final embeddings are
    returned for the main loss and contrasted with its layer-``layer`` embeddings.
    ``layer`` None (SimGCL): two perturbed propagations contrasted with each other; the
    main loss keeps the clean propagation (None is returned in its place). The contrast
    runs over the batch's distinct users and distinct positive items
    (:func:`graphrec.losses.cross_view_loss`).

    Raises
    ------
    ValueError
        The module does not propagate (it has no ``perturbed`` method, e.g. NCF).
    """
    inner = _unwrap(module)
    if not hasattr(inner, "perturbed"):
        raise ValueError(
            f"contrastive_weight needs a propagation module (LightGCN, MF), not {type(inner).__name__}"
        )
    users = torch.unique(batch.users)
    items = torch.unique(batch.items) + inner.n_users
    if layer is None:
        a, _ = inner.perturbed(eps, 0)
        b, _ = inner.perturbed(eps, 0)
        final = None
    else:
        a, b = inner.perturbed(eps, layer)
        final = a
    term = cross_view_loss(a[users], b[users], a[items], b[items], temperature=temperature)
    return final, term


def train_step(
    module: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    batch: Batch,
    *,
    loss: str = "bpr",
    reg: float = 1e-4,
    temperature: float = 0.1,
    hard: int = 0,
    contrast: dict[str, Any] | None = None,
) -> float:
    """Forward, loss, backward and one optimiser step; returns the data loss.

    ``module(rows, reg_weights)`` gives the final embeddings of the batch's rows
    and their L2 penalty (:class:`graphrec.models.lightgcn.PropagationModule`);
    a module's ``score_pairs``, when it has one, scores the pairs (see the module
    docstring).
    ``module`` may be wrapped in ``DistributedDataParallel`` (gradients are
    averaged across workers by the wrapper during ``backward``).

    ``contrast`` (``weight``, ``eps``, ``temperature``, ``layer``: the engine's
    ``contrastive_*`` settings; None or weight 0 for none) adds ``weight`` times
    :func:`contrastive_loss` to the objective; with XSimGCL's ``layer`` the main loss
    scores the perturbed propagation's embeddings.

    Raises
    ------
    TrainingError
        The loss is NaN or infinite (the learning rate is the usual cause).
    """
    inner = _unwrap(module)
    rows, weights = batch_rows(batch, inner.n_users, reg=reg, dtype=inner.ego.dtype)
    term = None
    final = None
    if contrast and contrast["weight"]:
        final, term = contrastive_loss(
            module, batch, eps=contrast["eps"], temperature=contrast["temperature"], layer=contrast["layer"]
        )
    if final is None:
        scored, penalty = module(rows, weights)
    else:  # XSimGCL: the main loss on the perturbed propagation, the L2 term on the ego rows
        scored = final.index_select(0, rows)
        penalty = (inner.ego.index_select(0, rows).square().sum(1) * weights).sum() if weights is not None else 0
    data = batch_objective(
        scored, batch, loss=loss, temperature=temperature, hard=hard,
        scorer=getattr(inner, "score_pairs", None),  # a module's own pair scorer (NCF), if any
    )
    total = data + reg * penalty if weights is not None else data
    if term is not None:
        total = total + contrast["weight"] * term  # type: ignore[index]  # set with term
    value = float(data.detach())
    if not math.isfinite(value) or not math.isfinite(float(total.detach())):
        lr = optimizer.param_groups[0]["lr"]
        raise TrainingError(
            f"training loss became {value} (non-finite); the learning rate lr={lr:g} is the likely "
            "cause: lower it (or add warm-up), or check the input data"
        )
    optimizer.zero_grad(set_to_none=True)
    total.backward()
    optimizer.step()
    return value


def adam(module: torch.nn.Module, lr: float) -> torch.optim.Adam:
    """The engine's default optimiser: Adam over ``module``'s parameters.

    Uses the fused kernel on CPU and CUDA (about 5% of a Gowalla LightGCN step
    saved over the default multi-tensor kernel on 2 CPU threads).
    """
    params = list(module.parameters())
    fused = bool(params) and all(p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in params)
    return torch.optim.Adam(params, lr=lr, fused=fused or None)


def learning_rate(
    base: float,
    progress: float,
    step: int,
    *,
    warmup: int = 0,
    decay: str | None = None,
    min_ratio: float = 0.0,
) -> float:
    """Learning rate after ``step`` steps at training progress ``progress`` in [0, 1].

    Linear warm-up over ``warmup`` steps, then constant, cosine or linear decay
    towards ``base * min_ratio`` at progress 1.
    """
    if warmup and step < warmup:
        return base * (step + 1) / warmup
    p = min(max(progress, 0.0), 1.0)
    floor = base * min_ratio
    if decay == "cosine":
        return floor + 0.5 * (base - floor) * (1.0 + math.cos(math.pi * p))
    if decay == "linear":
        return base - (base - floor) * p
    return base
