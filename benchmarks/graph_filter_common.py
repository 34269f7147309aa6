"""Scratch helpers for the DeepWalk / GraphFilter research scripts (Gowalla).

Independent of the library: plain numpy/scipy loading and a full-ranking
evaluator (all items, train items masked, Recall@20 = hits/|test|, NDCG@20
binary with ideal DCG over min(|test|, 20), averaged over test users).
"""
from __future__ import annotations

import resource
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

DATA = Path("/work/shared/data/gowalla")


def load_txt(path):
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


def load_gowalla(folder=DATA):
    folder = Path(folder)
    tu, ti = load_txt(folder / "train.txt")
    vu, vi = load_txt(folder / "test.txt")
    n_users = int(max(tu.max(), vu.max())) + 1
    n_items = int(max(ti.max(), vi.max())) + 1
    train = sp.csr_array((np.ones(len(tu), np.float32), (tu, ti)), shape=(n_users, n_items))
    test = sp.csr_array((np.ones(len(vu), np.float32), (vu, vi)), shape=(n_users, n_items))
    train.sum_duplicates(); test.sum_duplicates()
    train.data[:] = 1; test.data[:] = 1
    return train, test


def evaluate(score_fn, train, test, k=20, batch_size=2048):
    """score_fn(user_idx ndarray) -> (B, n_items) torch float32 or ndarray."""
    users = np.flatnonzero(np.diff(test.indptr) > 0)
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    idcg_cum = np.concatenate([[0.0], np.cumsum(discount)])
    recall = np.zeros(len(users)); ndcg = np.zeros(len(users))
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
        # hit matrix via sorted membership
        hit = np.zeros((len(b), k), dtype=bool)
        for j in range(len(b)):
            t = te.indices[te.indptr[j]:te.indptr[j + 1]]
            hit[j] = np.isin(top[j], t)
        n_test = np.diff(te.indptr)
        recall[s:s + len(b)] = hit.sum(1) / n_test
        dcg = (hit * discount).sum(1)
        ndcg[s:s + len(b)] = dcg / idcg_cum[np.minimum(n_test, k)]
    return {"recall@%d" % k: recall.mean(), "ndcg@%d" % k: ndcg.mean(), "n_users": len(users)}


def peak_rss_gb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2


class Timer:
    def __enter__(self):
        self.t = time.perf_counter(); return self

    def __exit__(self, *a):
        self.s = time.perf_counter() - self.t
