"""An evaluator independent of graphrec: a second opinion on the library's Gowalla figures.

``lightgcn_gowalla.py --check-saved`` scores a saved model with this module as well
as with ``graphrec.evaluate``, so that a bug shared by the library's loader, IdMaps,
seen-item masking or metrics cannot hide in both numbers. It shares no code with
graphrec: the LightGCN paper's ``train.txt``/``test.txt`` are read with plain
numpy/scipy in the raw ids (no IdMap), and the protocol is written out again:

- full ranking over all items, each user's train items masked;
- Recall@k = hits / |test items of the user|;
- NDCG@k binary, ideal DCG over min(|test items|, k);
- both averaged over the users with at least one test item.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

__all__ = ["evaluate", "load_gowalla", "load_txt"]


def load_txt(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(users, items) of a LightGCN-format file: one line per user, ``user item item ...``."""
    users, items = [], []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) < 2:
                continue
            arr = np.array(parts, dtype=np.int64)
            users.append(np.full(len(arr) - 1, arr[0]))
            items.append(arr[1:])
    return np.concatenate(users), np.concatenate(items)


def load_gowalla(folder: str | Path) -> tuple[sp.csr_array, sp.csr_array]:
    """Binary (train, test) user x item matrices of the Gowalla folder, indexed by raw id."""
    folder = Path(folder)
    tu, ti = load_txt(folder / "train.txt")
    vu, vi = load_txt(folder / "test.txt")
    n_users = int(max(tu.max(), vu.max())) + 1
    n_items = int(max(ti.max(), vi.max())) + 1
    train = sp.csr_array((np.ones(len(tu), np.float32), (tu, ti)), shape=(n_users, n_items))
    test = sp.csr_array((np.ones(len(vu), np.float32), (vu, vi)), shape=(n_users, n_items))
    for m in (train, test):
        m.sum_duplicates()
        m.data[:] = 1
    return train, test


def evaluate(score_fn: Callable[[np.ndarray], Any], train: sp.csr_array, test: sp.csr_array, k: int = 20,
             batch_size: int = 2048) -> dict[str, float]:
    """Recall@k and NDCG@k of ``score_fn`` over the users with test items.

    ``score_fn(user_idx)`` returns the ``(len(user_idx), n_items)`` scores (a torch
    tensor or an array); items the user has in ``train`` are masked before the top-k.
    Returns ``{"recall@k", "ndcg@k", "n_users"}``.
    """
    users = np.flatnonzero(np.diff(test.indptr) > 0)
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    idcg_cum = np.concatenate([[0.0], np.cumsum(discount)])
    recall = np.zeros(len(users))
    ndcg = np.zeros(len(users))
    for s in range(0, len(users), batch_size):
        b = users[s:s + batch_size]
        scores = score_fn(b)
        if not torch.is_tensor(scores):
            scores = torch.from_numpy(np.asarray(scores, dtype=np.float32))
        scores = scores.float().clone() if not scores.is_contiguous() else scores.float()
        tr = train[b]
        rows = np.repeat(np.arange(len(b)), np.diff(tr.indptr))
        scores[torch.from_numpy(rows), torch.from_numpy(tr.indices.astype(np.int64))] = -np.inf
        top = torch.topk(scores, k, dim=1).indices.numpy()
        te = test[b]
        hit = np.zeros((len(b), k), dtype=bool)
        for j in range(len(b)):
            hit[j] = np.isin(top[j], te.indices[te.indptr[j]:te.indptr[j + 1]])
        n_test = np.diff(te.indptr)
        recall[s:s + len(b)] = hit.sum(1) / n_test
        ndcg[s:s + len(b)] = (hit * discount).sum(1) / idcg_cum[np.minimum(n_test, k)]
    return {f"recall@{k}": float(recall.mean()), f"ndcg@{k}": float(ndcg.mean()), "n_users": len(users)}
