"""Tests of graphrec.rerank: MMR and DPP re-ranking, and recommend(rerank=...)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import RandomEmbeddings
from hypothesis import given, settings
from hypothesis import strategies as st

import graphrec as gr
from graphrec.persistence import read_state
from graphrec.rerank import DPP, MMR, Reranker, candidate_similarity, dpp, get_reranker, mmr


@pytest.fixture(scope="module")
def model():
    rng = np.random.default_rng(3)
    x = gr.Interactions.from_arrays(
        rng.integers(0, 20, 300), rng.integers(0, 150, 300), n_users=20, n_items=150
    )
    return RandomEmbeddings(embedding_dim=16).fit(x)


@st.composite
def candidate_lists(draw):
    n = draw(st.integers(1, 5))
    pool = draw(st.integers(1, 12))
    n_items = draw(st.integers(pool, 30))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    cand = np.stack([rng.permutation(n_items)[:pool] for _ in range(n)])
    scores = -np.sort(-rng.normal(size=(n, pool)), axis=1)
    pad = rng.random((n, pool)) < 0.25
    cand[pad] = -1
    scores[pad] = -np.inf
    categorical = draw(st.booleans())
    feats = rng.integers(0, 4, n_items) if categorical else rng.normal(size=(n_items, 3))
    k = draw(st.integers(1, 14))
    return cand, scores, feats, k


@settings(max_examples=60, deadline=None)
@given(candidate_lists(), st.floats(0, 1), st.sampled_from([mmr, dpp]))
def test_reranked_lists_are_duplicate_free_subsets(case, weight, fn):
    cand, scores, feats, k = case
    kw = {"lambda_": weight} if fn is mmr else {"theta": weight}
    idx, sc = fn(cand, scores, k, feats, **kw)
    assert idx.shape == sc.shape == (len(cand), k)
    for row, out, out_sc, row_sc in zip(cand, idx, sc, scores):
        valid = set(row[row >= 0].tolist())
        picked = out[out >= 0].tolist()
        assert len(picked) == len(set(picked)) == min(k, len(valid))
        assert set(picked) <= valid
        assert (out[len(picked) :] == -1).all() and np.isneginf(out_sc[len(picked) :]).all()
        lookup = dict(zip(row.tolist(), row_sc.tolist()))
        assert np.allclose(out_sc[: len(picked)], [lookup[i] for i in picked])


@settings(max_examples=40, deadline=None)
@given(candidate_lists(), st.sampled_from([mmr, dpp]))
def test_full_relevance_weight_keeps_relevance_order(case, fn):
    cand, scores, feats, k = case
    kw = {"lambda_": 1.0} if fn is mmr else {"theta": 1.0}
    idx, _ = fn(cand, scores, k, feats, **kw)
    for row, out in zip(cand, idx):  # scores are sorted, so relevance order = candidate order
        expected = row[row >= 0][:k]
        assert out[: len(expected)].tolist() == expected.tolist()


def test_dpp_never_picks_both_duplicates():
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(12, 16))
    feats[5] = feats[2]  # identical items 2 and 5
    feats[9] = 3.0 * feats[2]  # same direction: cosine 1
    cand = np.array([[2, 5, 9, 0, 1, 3, 4, 6, 7, 8, 10, 11]] * 3)
    scores = np.tile(-np.arange(12.0), (3, 1))
    for theta in (0.0, 0.5, 0.9, 0.99):
        idx, _ = dpp(cand, scores, 8, feats, theta=theta)
        for out in idx:
            assert len(set(out.tolist()) & {2, 5, 9}) == 1


def test_dpp_matches_naive_greedy_log_det():
    rng = np.random.default_rng(1)
    feats = rng.normal(size=(30, 12))
    cand = rng.permutation(30)[None, :15]
    scores = -np.sort(-rng.normal(size=(1, 15)), axis=1)
    theta, k = 0.6, 8
    rel = (scores[0] - scores[0].min()) / (scores[0].max() - scores[0].min())
    v = feats[cand[0]] / np.linalg.norm(feats[cand[0]], axis=1, keepdims=True)
    s = v @ v.T
    chosen: list[int] = []
    for _ in range(k):  # naive greedy on theta * sum rel + (1 - theta) * log det S_Y
        best, best_gain = -1, -np.inf
        for i in set(range(15)) - set(chosen):
            y = chosen + [i]
            gain = theta * rel[y].sum() + (1 - theta) * np.linalg.slogdet(s[np.ix_(y, y)])[1]
            if gain > best_gain:
                best, best_gain = i, gain
        chosen.append(best)
    idx, _ = dpp(cand, scores, k, feats, theta=theta)
    assert idx[0].tolist() == cand[0, chosen].tolist()


def test_mmr_known_answer_with_categories():
    cand = np.array([[0, 1, 2, 3]])
    scores = np.array([[4.0, 3.0, 2.0, 1.0]])
    cats = np.array(["drama", "drama", "comedy", "horror"])
    assert mmr(cand, scores, 3, cats, lambda_=0.3)[0].tolist() == [[0, 2, 3]]
    assert mmr(cand, scores, 3, cats, lambda_=1.0)[0].tolist() == [[0, 1, 2]]
    sim = candidate_similarity(cand, cats)
    assert sim[0].tolist() == [[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]


@pytest.mark.parametrize("fn", [mmr, dpp])
def test_batch_equals_per_user(fn):
    rng = np.random.default_rng(2)
    feats = rng.normal(size=(200, 8))
    cand = np.stack([rng.permutation(200)[:40] for _ in range(9)])
    scores = -np.sort(-rng.normal(size=(9, 40)), axis=1)
    idx, sc = fn(cand, scores, 10, feats)
    for j in range(9):
        i1, s1 = fn(cand[j : j + 1], scores[j : j + 1], 10, feats)
        assert np.array_equal(i1[0], idx[j]) and np.allclose(s1[0], sc[j])


def test_bad_arguments():
    cand, scores, feats = np.array([[0, 1]]), np.array([[1.0, 0.5]]), np.eye(2)
    with pytest.raises(ValueError, match="lambda_"):
        mmr(cand, scores, 1, feats, lambda_=1.5)
    with pytest.raises(ValueError, match="theta"):
        dpp(cand, scores, 1, feats, theta=-0.1)
    with pytest.raises(ValueError, match="k"):
        mmr(cand, scores, 0, feats)
    with pytest.raises(ValueError, match="scores"):
        dpp(cand, scores[:, :1], 1, feats)
    with pytest.raises(ValueError, match="rerank"):
        get_reranker("random")
    with pytest.raises(ValueError, match="pool"):
        MMR(pool=0).pool_size(10)
    with pytest.raises(ValueError, match="item_embeddings_"):
        MMR().rerank(cand, scores, 1, model=None)
    assert isinstance(get_reranker("MMR"), MMR) and isinstance(get_reranker("dpp"), DPP)
    r = DPP(theta=0.2, pool=30)
    assert get_reranker(r) is r and r.pool_size(50) == 50 and isinstance(r, Reranker)


@pytest.mark.parametrize(
    "rerank", ["mmr", "dpp", MMR(lambda_=0.2, pool=40), DPP(theta=0.3, pool=40)]
)
def test_recommend_with_rerank_picks_from_the_pool(model, rerank):
    users = np.arange(20)
    idx, _ = model.recommend(users, k=10, rerank=rerank)
    pool = get_reranker(rerank).pool_size(10)
    cand, _ = model.recommend(users, k=pool)
    seen = model.seen_.toarray() > 0
    for j, u in enumerate(users):
        out = idx[j][idx[j] >= 0]
        assert len(out) == len(set(out.tolist())) == min(10, int((cand[j] >= 0).sum()))
        assert set(out.tolist()) <= set(cand[j].tolist())
        assert not seen[u, out].any()


def test_rerank_with_categories_raises_category_diversity(model):
    cats = np.arange(150) % 5
    plain, _ = model.recommend(np.arange(20), k=5)
    diverse, _ = model.recommend(np.arange(20), k=5, rerank=MMR(lambda_=0.1, similarity=cats))
    n_cats = lambda ranked: np.mean([len(set(cats[r[r >= 0]].tolist())) for r in ranked])
    assert n_cats(diverse) == 5 and n_cats(diverse) >= n_cats(plain)
    pop = gr.Popularity().fit(
        gr.Interactions.from_arrays([0, 1, 1], [1, 1, 0], n_users=2, n_items=3)
    )
    with pytest.raises(ValueError, match="item_embeddings_"):
        pop.recommend([0], k=2, rerank="mmr")
    # candidates by popularity [1, 0, 2]; item 0 shares item 1's category, item 2 does not
    diverse = pop.recommend(
        [0], k=2, exclude_seen=False, rerank=MMR(lambda_=0.5, similarity=np.array([0, 0, 1]))
    )
    assert diverse[0].tolist() == [[1, 2]]


def test_save_load_round_trip_keeps_rerank_results(model, tmp_path):
    model.save(tmp_path / "m")
    loaded = RandomEmbeddings._from_state(read_state(tmp_path / "m"))  # RandomEmbeddings is not in the registry
    for rerank in ("mmr", "dpp"):
        a = model.recommend(np.arange(20), k=10, rerank=rerank)
        b = loaded.recommend(np.arange(20), k=10, rerank=rerank)
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
