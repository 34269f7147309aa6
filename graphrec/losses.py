"""Training objectives as pure functions of score or embedding tensors.

Every function takes tensors and returns a scalar tensor (mean over the batch);
none holds state or knows a model, so any encoder (LightGCN, MF, ...) and the
shared training engine (:mod:`graphrec.training`) can combine them.

Conventions: ``pos`` has shape ``(B,)``; ``neg`` has shape ``(B,)`` (one
negative per positive) or ``(B, K)`` (K negatives per positive, or the scores of
a pool of K negatives shared by the batch).
"""

from __future__ import annotations

from typing import cast

import torch
import torch.nn.functional as F

__all__ = [
    "LOSSES",
    "bce_loss",
    "bpr_loss",
    "cross_view_loss",
    "infonce_loss",
    "l2_regularization",
    "pool_bpr_loss",
]

#: loss names understood by the models and the training engine
LOSSES = ("bpr", "bce", "infonce")


def _neg2d(pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
    if pos.ndim != 1:
        raise ValueError(f"pos must be 1-D (B,), got shape {tuple(pos.shape)}")
    if neg.ndim == 1:
        neg = neg[:, None]
    if neg.ndim != 2 or neg.shape[0] != pos.shape[0]:
        raise ValueError(
            f"neg must be (B,) or (B, K) with B={pos.shape[0]}, got shape {tuple(neg.shape)}"
        )
    return neg


def bpr_loss(pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
    """Bayesian personalised ranking: mean of ``-log sigmoid(pos - neg)``.

    With several negatives per positive the mean runs over all ``B * K`` pairs.

    Parameters
    ----------
    pos : Tensor, shape (B,)
        Scores of the observed (user, item) pairs.
    neg : Tensor, shape (B,) or (B, K)
        Scores of sampled negatives for the same users.

    Returns
    -------
    Tensor, scalar

    Examples
    --------
    >>> import torch
    >>> round(float(bpr_loss(torch.tensor([0.0]), torch.tensor([0.0]))), 4)  # log 2
    0.6931
    """
    neg = _neg2d(pos, neg)
    return F.softplus(neg - pos[:, None]).mean()


# Rows of the B x P score matrix handled at once by _PoolBPR: 2^21 float32 scores (8 MB)
# per block stay below glibc's mmap threshold, so the buffers are reused from the heap
# instead of being page-faulted in afresh at every step as a whole 8,192 x 2,048 matrix
# (64 MB) is. Gowalla pool-BPR training step (lightgcn_speed.graphrec_stepper, old and new
# in turns): 0.155 vs 0.197 s; with 64 hard negatives 0.212 vs 0.249 s.
_POOL_BLOCK = 1 << 21


class _PoolBPR(torch.autograd.Function):
    """BPR of each positive against a shared pool, gradients computed in the forward pass.

    The loss is a scalar, so its gradient is the forward's gradient times
    ``grad_out``: the forward walks the ``B x P`` score matrix in row blocks,
    turns each block into ``softplus`` (the loss) and ``sigmoid`` (the gradient),
    and keeps only the ``(B, d)`` and ``(P, d)`` gradients. No ``B x P``
    intermediate outlives its block. With ``hard = h`` only each row's ``h``
    highest scores enter the loss (their sigmoids are scattered into the block).
    """

    @staticmethod
    def forward(ctx, users, pos_items, pool, hard):  # type: ignore[override]
        b, p = users.shape[0], pool.shape[0]
        need_grad = any(ctx.needs_input_grad)
        pos = (users * pos_items).sum(1, keepdim=True)
        total = users.new_zeros((), dtype=torch.float64)
        if need_grad:
            g_users, g_pos = torch.empty_like(users), torch.empty_like(pos_items)
            g_pool = torch.zeros_like(pool)
        rows = max(1, _POOL_BLOCK // max(p, 1))
        for start in range(0, b, rows):
            end = min(start + rows, b)
            u = users[start:end]
            diff = torch.addmm(-pos[start:end], u, pool.T)
            if hard:
                top, idx = torch.topk(diff, hard, dim=1)
                total += F.softplus(top).sum(dtype=torch.float64)
                sig = diff.zero_().scatter_(1, idx, top.sigmoid_()) if need_grad else None
            else:
                total += F.softplus(diff).sum(dtype=torch.float64)
                sig = diff.sigmoid_() if need_grad else None
            if sig is not None:
                row = sig.sum(1, keepdim=True)
                g_users[start:end] = torch.addmm(-row * pos_items[start:end], sig, pool)
                g_pos[start:end] = -row * u
                g_pool.addmm_(sig.T, u)
        scale = 1.0 / (b * (hard or p))
        if need_grad:
            ctx.save_for_backward(g_users.mul_(scale), g_pos.mul_(scale), g_pool.mul_(scale))
        return (total * scale).to(users.dtype)

    @staticmethod
    def backward(ctx, grad_out):  # type: ignore[override]
        g_users, g_pos, g_pool = ctx.saved_tensors
        return g_users * grad_out, g_pos * grad_out, g_pool * grad_out, None


def pool_bpr_loss(
    users: torch.Tensor, pos_items: torch.Tensor, pool: torch.Tensor, *, hard: int = 0
) -> torch.Tensor:
    """BPR of every positive against a pool of negatives shared by the batch.

    ``mean_{b,j} softplus(u_b . p_j - u_b . i_b)`` over all ``B x P`` pairs: one
    matrix product scores thousands of negatives per positive. With ``hard = h``
    only each user's ``h`` highest-scoring pool items enter the mean (dynamic hard
    negatives, as in DNS). They learn fast early; on Gowalla, LightGCN's test
    recall peaked after 8 epochs with them and then drifted down while a random
    validation carve of train kept rising (benchmarks/RESULTS.md), so the training
    engine can switch them off after a fraction of training (``hard_fraction``).

    Parameters
    ----------
    users, pos_items : Tensor, shape (B, d)
    pool : Tensor, shape (P, d)
    hard : int, default 0
        0 for all pool items, else the number of hardest items kept per user (<= P).

    Returns
    -------
    Tensor, scalar

    Examples
    --------
    >>> import torch
    >>> u = torch.tensor([[1.0, 0.0]])
    >>> round(float(pool_bpr_loss(u, u, torch.tensor([[1.0, 0.0], [0.0, 1.0]]))), 4)  # log 2 and log(1+e^-1)
    0.5032
    """
    if users.shape != pos_items.shape or users.ndim != 2:
        raise ValueError(
            f"users and pos_items must both be (B, d), got {tuple(users.shape)} and {tuple(pos_items.shape)}"
        )
    if pool.ndim != 2 or pool.shape[1] != users.shape[1]:
        raise ValueError(f"pool must be (P, {users.shape[1]}), got {tuple(pool.shape)}")
    if hard < 0 or hard > pool.shape[0]:
        raise ValueError(f"hard must be in [0, {pool.shape[0]}], got {hard}")
    return _PoolBPR.apply(users, pos_items, pool, int(hard))


def bce_loss(pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy with sampled negatives (positives label 1, negatives 0).

    ``mean_b softplus(-pos_b) + mean_{b,k} softplus(neg_bk)``: each positive and
    the average of its negatives weigh the same.

    Parameters
    ----------
    pos : Tensor, shape (B,)
    neg : Tensor, shape (B,) or (B, K)

    Returns
    -------
    Tensor, scalar

    Examples
    --------
    >>> import torch
    >>> round(float(bce_loss(torch.tensor([0.0]), torch.tensor([0.0]))), 4)  # 2 log 2
    1.3863
    """
    neg = _neg2d(pos, neg)
    return F.softplus(-pos).mean() + F.softplus(neg).mean()


def infonce_loss(
    users: torch.Tensor,
    pos_items: torch.Tensor,
    neg_items: torch.Tensor | None = None,
    *,
    temperature: float = 0.1,
    cosine: bool = True,
) -> torch.Tensor:
    """Sampled softmax (InfoNCE) over in-batch items or a shared negative pool.

    Logits are ``sim(u, i) / temperature`` with ``sim`` the cosine (default) or the
    dot product. Each user's positive competes with

    * ``neg_items=None``: the other positives of the batch (in-batch negatives;
      a row's own positive is on the diagonal), or
    * ``neg_items`` of shape (P, d): a pool of P sampled items shared by the
      whole batch (one matrix product, so thousands of negatives are cheap).

    Parameters
    ----------
    users : Tensor, shape (B, d)
    pos_items : Tensor, shape (B, d)
    neg_items : Tensor, shape (P, d), optional
    temperature : float, default 0.1
        Must be > 0.
    cosine : bool, default True
        Normalise the vectors to unit length first.

    Returns
    -------
    Tensor, scalar
        Mean cross-entropy of picking the positive.

    Raises
    ------
    ValueError
        ``temperature <= 0`` or mismatched shapes.

    Examples
    --------
    >>> import torch
    >>> u = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    >>> round(float(infonce_loss(u, u, temperature=1.0)), 4)  # log(1 + e^-1)
    0.3133
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    if users.shape != pos_items.shape or users.ndim != 2:
        raise ValueError(
            f"users and pos_items must both be (B, d), got {tuple(users.shape)} and {tuple(pos_items.shape)}"
        )
    if cosine:
        users = F.normalize(users, dim=1)
        pos_items = F.normalize(pos_items, dim=1)
    if neg_items is None:
        logits = users @ pos_items.T / temperature
        target = torch.arange(len(users), device=users.device)
        return F.cross_entropy(logits, target)
    if neg_items.ndim != 2 or neg_items.shape[1] != users.shape[1]:
        raise ValueError(f"neg_items must be (P, {users.shape[1]}), got {tuple(neg_items.shape)}")
    if cosine:
        neg_items = F.normalize(neg_items, dim=1)
    pos = (users * pos_items).sum(1, keepdim=True) / temperature
    neg = users @ neg_items.T / temperature
    return (torch.logsumexp(torch.cat([pos, neg], 1), 1) - pos[:, 0]).mean()


def cross_view_loss(
    users_a: torch.Tensor,
    users_b: torch.Tensor,
    items_a: torch.Tensor,
    items_b: torch.Tensor,
    *,
    temperature: float = 0.2,
) -> torch.Tensor:
    """Contrastive loss between two views of the same users and items (SimGCL / XSimGCL).

    For users, with ``z'`` and ``z''`` the two views of user ``u`` normalised to unit
    length and ``B`` the batch's users,

        L_u = mean_u -log( exp(z'_u . z''_u / tau) / sum_{v in B} exp(z'_u . z''_v / tau) ),

    and likewise for items; the loss is ``L_u + L_i`` (Yu et al., "Are graph augmentations
    necessary?", SIGIR 2022, eq. 3; XSimGCL, TKDE 2023, eq. 7, where the second view is a
    lower layer of the same perturbed propagation). Each term is :func:`infonce_loss`
    with in-batch negatives.

    Parameters
    ----------
    users_a, users_b : Tensor, shape (B_u, d)
        The two views of the same users, row for row.
    items_a, items_b : Tensor, shape (B_i, d)
        The two views of the same items.
    temperature : float, default 0.2
        ``tau`` (> 0).

    Returns
    -------
    Tensor, scalar

    Examples
    --------
    >>> import torch
    >>> e = torch.eye(2)
    >>> round(float(cross_view_loss(e, e, e, e, temperature=1.0)), 4)  # 2 * log(1 + e^-1)
    0.6265
    """
    return infonce_loss(users_a, users_b, temperature=temperature) + infonce_loss(
        items_a, items_b, temperature=temperature
    )


def l2_regularization(*embeddings: torch.Tensor, batch_size: int | None = None) -> torch.Tensor:
    """LightGCN's regulariser: ``sum ||e||^2 / (2 * batch_size)`` over ego embeddings.

    Pass the layer-0 (ego) rows used by the batch: users, positive items and
    negatives. Following LightGCN, the sum is divided by the batch size, so the
    penalty per parameter does not depend on how large the batch is.

    Parameters
    ----------
    *embeddings : Tensor
        Any shapes; all elements are squared and summed.
    batch_size : int, optional
        Defaults to the first dimension of the first tensor.

    Returns
    -------
    Tensor, scalar

    Examples
    --------
    >>> import torch
    >>> float(l2_regularization(torch.ones(2, 3)))  # 6 / (2 * 2)
    1.5
    """
    if not embeddings:
        raise ValueError("l2_regularization needs at least one tensor")
    if batch_size is None:
        batch_size = embeddings[0].shape[0] if embeddings[0].ndim else 1
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    total = cast(torch.Tensor, sum(e.square().sum() for e in embeddings))  # never empty: checked
    return total / (2 * batch_size)
