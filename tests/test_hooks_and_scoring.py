"""Tests of the Recommender hooks (fold_in, score_new_users, explain_weighting), the one
scorer/ranking path in graphrec.retrieval (score_blocks, rank_blocks) and the shared
validators in graphrec.utils."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
import scipy.sparse as sp
import torch

import graphrec as gr
from graphrec import coldstart, retrieval, utils
from graphrec.models.base import EmbeddingRecommender


class Fixed(EmbeddingRecommender):
    def __init__(self, *, dim: int = 5, similarity: str | None = None) -> None:
        self.dim = dim
        self.similarity = similarity

    def _fit(self, train, valid):
        rng = np.random.default_rng(0)
        self.user_embeddings_ = rng.normal(size=(train.n_users, self.dim)).astype(np.float32)
        self.item_embeddings_ = rng.normal(size=(train.n_items, self.dim)).astype(np.float32)


@pytest.fixture(scope="module")
def data():
    return gr.datasets.synthetic(n_users=80, n_items=150, n_communities=3, random_state=0).train


def test_graph_filter_override_is_used(data, monkeypatch):
    m = gr.GraphFilter(n_components=4, random_state=0).fit(data)
    called = []
    orig = gr.GraphFilter.score_new_users

    def spy(self, rows, **params):
        called.append(rows.shape)
        return orig(self, rows, **params)

    monkeypatch.setattr(gr.GraphFilter, "score_new_users", spy)
    seen = m.seen_
    items = seen.indices[seen.indptr[3] : seen.indptr[4]]
    idx, sc = coldstart.recommend_new_user(m, items, k=5)
    assert called == [(1, data.n_items)]
    # the closed form equals the trained user's scores, not a generic fold-in's
    assert np.allclose(sc, m.score([3])[0, idx], atol=1e-5)
    generic = gr.Recommender.score_new_users(m, sp.csr_array(([1.0] * len(items), items, [0, len(items)]), shape=(1, data.n_items)), method="mean")
    assert not np.allclose(generic[0, idx], sc, atol=1e-3)


def test_subclass_fold_in_is_honoured_by_recommend(data):
    class Constant(Fixed):
        def fold_in(self, rows, **params):
            return np.tile(self.item_embeddings_[7], (rows.shape[0], 1))

    m = Constant().fit(data)
    idx, _ = coldstart.recommend_new_users(m, [[1], [2, 3]], k=3, exclude_given=False)
    expect = np.argsort(-(m.item_embeddings_ @ m.item_embeddings_[7]), kind="stable")[:3]
    assert idx[0].tolist() == idx[1].tolist() == expect.tolist()


def test_fold_in_default_comes_from_the_class(data):
    assert gr.LightGCN.fold_in_default == "propagation"
    for cls in (gr.MF, gr.DeepWalk, gr.Item2Vec, gr.GraphFilter, gr.Popularity):
        assert cls.fold_in_default == "ridge"
    m = Fixed().fit(data)
    rows = sp.csr_array(np.eye(2, data.n_items, dtype=np.float32))
    assert np.array_equal(m.fold_in(rows), m.fold_in(rows, method="ridge"))

    class Propagating(Fixed):
        fold_in_default = "propagation"

    p = Propagating().fit(data)
    assert np.array_equal(p.fold_in(rows), p.fold_in(rows, method="propagation"))


def test_hook_inputs_are_checked(data):
    m = Fixed().fit(data)
    with pytest.raises(TypeError, match="rows"):
        m.fold_in(np.ones((1, data.n_items)))
    with pytest.raises(ValueError, match="columns"):
        m.fold_in(sp.csr_array(np.ones((1, 3))))
    with pytest.raises(ValueError, match="weights"):
        m.score_new_users(sp.csr_array(-np.ones((1, data.n_items))))
    with pytest.raises(ValueError, match="method"):
        m.fold_in(sp.csr_array(np.ones((1, data.n_items))), method="magic")
    pop = gr.Popularity().fit(data)
    s = pop.score_new_users(sp.csr_array(np.ones((2, data.n_items))))
    assert s.shape == (2, data.n_items) and np.array_equal(s[1], pop.item_popularity_)


@pytest.mark.parametrize("similarity", ["dot", "cosine"])
def test_one_scorer_behind_recommend_top_k_embeddings_and_similar(data, similarity):
    m = Fixed(similarity=similarity).fit(data)
    users = np.arange(data.n_users)
    a = m.recommend(users, k=10)
    b = retrieval.top_k_embeddings(
        m.user_embeddings_, m.item_embeddings_, 10, similarity=similarity, exclude=m.seen_, batch_size=17
    )
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    blocks = [
        (s, t.clone())
        for s, t in retrieval.score_blocks(
            torch.from_numpy(m.user_embeddings_), torch.from_numpy(m.item_embeddings_), similarity,
            batch_size=30, rows=users[::-1].copy(),
        )
    ]
    assert [s for s, _ in blocks] == [0, 30, 60]
    full = torch.cat([t for _, t in blocks]).numpy()
    assert np.allclose(full, m.score(users[::-1], similarity=similarity), atol=1e-5)
    items = np.arange(20)
    si = m.similar_items(items, k=4)
    ref = retrieval.similar(m.item_embeddings_, items, 4)
    assert np.array_equal(si[0], ref[0]) and np.array_equal(si[1], ref[1])
    assert not (si[0] == items[:, None]).any()


def test_rank_blocks_pads_reranks_and_matches_recommend(data):
    m = Fixed().fit(data)
    users = np.arange(data.n_users)
    idx, sc = m.recommend(users, k=6, rerank="mmr")
    blocks = [(0, m.score(users))]
    from graphrec.rerank import get_reranker

    j, s = retrieval.rank_blocks(
        blocks, len(users), 6, exclude=m.seen_, reranker=get_reranker("mmr"), model=m
    )
    assert np.array_equal(idx, j) and np.array_equal(sc, s)
    short = np.array([[1.0, -np.inf, 0.5]], np.float32)
    j, s = retrieval.rank_blocks([(0, short)], 1, 4)
    assert j.tolist() == [[0, 2, -1, -1]] and np.isneginf(s[0, 2:]).all()


def test_validators_name_the_parameter():
    for bad in (0, -1, 1.5, True, "3", None):
        with pytest.raises(ValueError, match="k must be an integer >= 1"):
            utils.check_positive_int(bad, "k")
    assert utils.check_positive_int(np.int64(3), "k") == 3
    with pytest.raises(ValueError, match="theta must be a number in \\[0, 1\\]"):
        utils.check_unit_interval(1.5, "theta")
    with pytest.raises(ValueError, match="alpha must be a finite number >= 0"):
        utils.check_positive_float(float("nan"), "alpha", allow_zero=True)
    with pytest.raises(IndexError, match="user index 5 out of range"):
        utils.check_index(5, 5, "user")
    assert utils.positive_int_arg("7") == 7
    for bad in ("0", "x", "-2"):
        with pytest.raises(argparse.ArgumentTypeError, match="integer >= 1"):
            utils.positive_int_arg(bad)
    # the modules that used to carry their own copies now raise the same messages
    with pytest.raises(ValueError, match="k must be an integer >= 1"):
        gr.metrics.recall_at_k(np.array([[1]]), [[1]], 0)
    with pytest.raises(ValueError, match="lambda_ must be a number in \\[0, 1\\]"):
        gr.rerank.mmr(np.array([[0]]), np.array([[1.0]]), 1, np.zeros(1), lambda_=2)
    with pytest.raises(ValueError, match="pool must be an integer >= 1"):
        gr.rerank.MMR(pool=0).pool_size(3)
