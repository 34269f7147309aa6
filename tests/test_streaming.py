"""Block-streamed evaluation and recommend give exactly the unblocked results (issue 21)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import graphrec as gr
from graphrec import metrics
from graphrec.evaluation import rank_all
from graphrec.models import get_model_class
from graphrec.retrieval import MAX_BLOCK_BYTES, rows_per_block, score_blocks

MODELS = {
    "Popularity": {},
    "MF": {"embedding_dim": 8, "epochs": 2, "batch_size": 64},
    "GraphFilter": {"n_components": 4},
    "PureSVD": {"embedding_dim": 4},
    "ALS": {"embedding_dim": 4, "iterations": 2},
}


@pytest.fixture(scope="module")
def data() -> gr.Dataset:
    return gr.datasets.synthetic(n_users=53, n_items=37, n_communities=3, interactions_per_user=6, random_state=1)


def _fit(name: str, train: gr.Interactions):
    cls = get_model_class(name)
    params = dict(MODELS[name])
    if "random_state" in cls().get_params():
        params["random_state"] = 0
    return cls(**params).fit(train)


def test_rows_per_block_bounds_the_block():
    assert rows_per_block(10, 2048) == 2048
    assert rows_per_block(1_000_000, 2048, 400_000_000) == 100
    assert rows_per_block(10**9, 2048, 1024) == 1  # at least one row
    assert rows_per_block(MAX_BLOCK_BYTES // 4 // 100, 2048) == 100
    with pytest.raises(ValueError, match="max_block_bytes"):
        rows_per_block(10, 2048, 0)
    with pytest.raises(ValueError, match="batch_size"):
        rows_per_block(10, 0)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_blocked_evaluate_equals_unblocked(data, name):
    model = _fit(name, data.train)
    whole = gr.evaluate(model, data.test, k=(5, 10), max_block_bytes=10**9)
    # 3 users per block (53 users: 18 blocks, the last one short)
    blocked = gr.evaluate(model, data.test, k=(5, 10), max_block_bytes=3 * 4 * data.train.n_items)
    whole.pop("seconds"), blocked.pop("seconds")
    assert blocked == whole
    users = np.arange(data.train.n_users)
    np.testing.assert_array_equal(
        rank_all(model, users, 10, max_block_bytes=4 * data.train.n_items),  # one user per block
        rank_all(model, users, 10, max_block_bytes=10**9),
    )


@pytest.mark.parametrize("name", sorted(MODELS))
def test_blocked_recommend_equals_unblocked(data, name):
    model = _fit(name, data.train)
    users = np.arange(data.train.n_users)
    idx, scores = model.recommend(users, k=7)
    model._max_block_bytes = 2 * 4 * data.train.n_items  # two users per block
    idx_b, scores_b = model.recommend(users, k=7)
    np.testing.assert_array_equal(idx_b, idx)
    # the same items; a score may differ in the last bit, as BLAS sums in an order that
    # depends on the block's shape
    np.testing.assert_allclose(scores_b, scores, rtol=1e-6, atol=1e-6)
    # and each block equals scoring the users one at a time
    single = np.concatenate([model.recommend([u], k=7)[0] for u in users[:10]])
    np.testing.assert_array_equal(single, idx[:10])


def test_score_blocks_shrinks_blocks_for_a_large_catalogue(monkeypatch):
    from graphrec import retrieval

    monkeypatch.setattr(retrieval, "MAX_BLOCK_BYTES", 4 * 50 * 3)  # 3 rows of 50 items
    q, v = torch.randn(10, 4), torch.randn(50, 4)
    sizes = [len(s) for _, s in score_blocks(q, v, batch_size=2048)]
    assert sizes == [3, 3, 3, 1]


def test_intra_list_diversity_blocked_equals_whole(monkeypatch):
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(30, 5)).astype(np.float32)
    ranked = rng.integers(-1, 30, size=(41, 6))
    whole = metrics.intra_list_diversity(ranked, feats)
    monkeypatch.setattr(metrics, "_DIVERSITY_BLOCK_FLOATS", 6 * 5 * 4)  # 4 lists per block
    np.testing.assert_array_equal(metrics.intra_list_diversity(ranked, feats), whole)
