"""Training objectives as pure functions of score or embedding tensors.

Every function takes tensors and returns a scalar tensor (mean over the batch);
none holds state or knows a model, so any encoder (LightGCN, MF, ...) and the
shared training engine (:mod:`graphrec.training`) can combine them.

Conventions: ``pos`` has shape ``(B,)``; ``neg`` has shape ``(B,)`` (one
negative per positive) or ``(B, K)`` (K negatives per positive, or the scores of
a pool of K negatives shared by the batch).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["bpr_loss", "bce_loss", "infonce_loss", "l2_regularization", "LOSSES"]

#: loss names understood by the models and the training engine
LOSSES = ("bpr", "bce", "infonce")


def _neg2d(pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
    if pos.ndim != 1:
        raise ValueError(f"pos must be 1-D (B,), got shape {tuple(pos.shape)}")
    if neg.ndim == 1:
        neg = neg[:, None]
    if neg.ndim != 2 or neg.shape[0] != pos.shape[0]:
        raise ValueError(f"neg must be (B,) or (B, K) with B={pos.shape[0]}, got shape {tuple(neg.shape)}")
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
    total = sum(e.square().sum() for e in embeddings)
    return total / (2 * batch_size)
