"""Tests of graphrec.coldstart: user fold-in and content-based item embeddings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import graphrec as gr
from graphrec.coldstart import (
    ContentItemMapper,
    content_features,
    fold_in_user,
    fold_in_users,
    recommend_new_user,
    recommend_new_users,
)
from graphrec.graph import normalized_interactions
from graphrec.models.base import EmbeddingRecommender
from graphrec.persistence import read_state


class SVD(EmbeddingRecommender):
    """Truncated SVD of the normalised interactions (a stand-in for trained encoders)."""

    def __init__(self, *, embedding_dim: int = 4):
        self.embedding_dim = embedding_dim

    def _fit(self, train, valid):
        u, s, vt = np.linalg.svd(normalized_interactions(train).toarray(), full_matrices=False)
        d = self.embedding_dim
        self.user_embeddings_ = (u[:, :d] * np.sqrt(s[:d])).astype(np.float32)
        self.item_embeddings_ = (vt[:d].T * np.sqrt(s[:d])).astype(np.float32)


class Graphy(SVD):
    """Declares propagation as its fold-in: "auto" fold-in uses propagation."""

    fold_in_default = "propagation"

    def __init__(self, *, embedding_dim: int = 4, n_layers: int = 2):
        self.embedding_dim = embedding_dim
        self.n_layers = n_layers


@pytest.fixture(scope="module")
def communities():
    """Two communities: users 0-9 like items 0-9, users 10-19 items 10-19 (each misses one)."""
    users, items = [], []
    for u in range(20):
        block = range(10) if u < 10 else range(10, 20)
        for i in block:
            if i % 10 != u % 10:
                users.append(u)
                items.append(i)
    return gr.Interactions.from_arrays(users, items, n_users=20, n_items=20)


@pytest.mark.parametrize("method", ["auto", "propagation", "ridge", "mean"])
def test_folded_in_user_lands_in_the_right_community(communities, method):
    m = SVD(embedding_dim=2).fit(communities)
    for given, block in (([1, 2, 3], range(10)), ([12, 15], range(10, 20))):
        idx, sc = recommend_new_user(m, given, k=5, method=method)
        assert set(idx.tolist()) <= set(block) - set(given)
        assert (np.diff(sc) <= 0).all()


def test_fold_in_of_a_trained_user_reproduces_its_ranking(communities):
    m = SVD(embedding_dim=2).fit(communities)
    seen = m.seen_
    items = seen.indices[seen.indptr[3] : seen.indptr[4]]
    trained, _ = m.recommend([3], k=3)
    for method in ("propagation", "ridge"):
        folded, _ = recommend_new_user(m, items, k=3, method=method)
        assert set(folded.tolist()) == set(trained[0].tolist())


def test_fold_in_known_answers(communities):
    m = SVD(embedding_dim=2).fit(communities)
    v = m.item_embeddings_
    assert np.allclose(fold_in_user(m, [0, 4], method="mean"), v[[0, 4]].mean(0), atol=1e-6)
    assert np.allclose(
        fold_in_user(m, [0, 4], [1.0, 3.0], method="mean"), (v[0] + 3 * v[4]) / 4, atol=1e-6
    )
    deg = np.bincount(m.seen_.indices, minlength=20) + 1.0
    expected = (v[0] / np.sqrt(deg[0]) + v[4] / np.sqrt(deg[4])) / np.sqrt(2)
    assert np.allclose(fold_in_user(m, [0, 4], method="propagation"), expected, atol=1e-6)
    g = Graphy(embedding_dim=2).fit(communities)
    assert np.allclose(fold_in_user(g, [0, 4]), expected, atol=1e-6)  # auto -> propagation
    # ridge solves (V'V + alpha V_I'V_I + reg I) x = V_I'(1 + alpha)
    gram = v.astype(np.float64).T @ v
    a = gram + 10 * v[[0, 4]].T @ v[[0, 4]] + 1.0 * np.trace(gram) / 2 * np.eye(2)
    ridge = np.linalg.solve(a, v[[0, 4]].T @ np.full(2, 11.0))
    assert np.allclose(fold_in_user(m, [0, 4], method="ridge"), ridge, atol=1e-4)


def test_batch_equals_per_user(communities):
    m = SVD(embedding_dim=3).fit(communities)
    lists = [[1, 2], [15], [0, 10, 19], [7, 8]]  # an item listed twice is an error (test_cold_start_refuses_bad_item_lists)
    idx, sc = recommend_new_users(m, lists, k=4)
    vecs = fold_in_users(m, lists)
    for j, items in enumerate(lists):
        i1, s1 = recommend_new_user(m, items, k=4)
        assert np.array_equal(i1, idx[j]) and np.allclose(s1, sc[j])
        assert np.allclose(fold_in_user(m, items), vecs[j])
        assert not set(i1.tolist()) & set(items)


def test_popularity_and_duck_typed_models(communities):
    pop = gr.Popularity().fit(
        gr.Interactions.from_arrays([0, 1, 1, 2], [1, 1, 0, 1], n_users=3, n_items=4)
    )
    idx, _ = recommend_new_user(pop, [1], k=4)
    assert idx.tolist()[:1] == [0] and 1 not in idx.tolist()
    with pytest.raises(ValueError, match="item_embeddings_"):
        fold_in_user(pop, [1])

    class OwnFoldIn(SVD):
        def fold_in(self, rows, **params):
            counts = np.diff(sp.csr_array(rows).indptr).astype(np.float32)
            return np.repeat(counts[:, None], self.embedding_dim, axis=1)

    m = OwnFoldIn(embedding_dim=2).fit(communities)
    assert fold_in_user(m, [1, 2, 3]).tolist() == [3.0, 3.0]

    class RowScorer(SVD):
        def score_new_users(self, rows, **params):
            return (rows @ np.eye(self.n_items_, k=1)).astype(np.float32)  # item i -> i+1

    r = RowScorer(embedding_dim=2).fit(communities)
    assert recommend_new_user(r, [4], k=1)[0].tolist() == [5]


def test_rerank_and_padding(communities):
    m = SVD(embedding_dim=2).fit(communities)
    idx, _ = recommend_new_user(m, np.arange(18), k=5)
    assert idx.tolist()[:2] and (idx[2:] == -1).all()
    idx, _ = recommend_new_user(m, [1, 2], k=4, rerank="dpp")
    assert len(set(idx[idx >= 0].tolist())) == 4 and not {1, 2} & set(idx.tolist())


def test_bad_input(communities):
    m = SVD(embedding_dim=2).fit(communities)
    with pytest.raises(IndexError, match="items"):
        fold_in_user(m, [20])
    with pytest.raises(ValueError, match="method"):
        fold_in_user(m, [1], method="magic")
    with pytest.raises(ValueError, match="alpha"):
        fold_in_user(m, [1], alpha=-1)
    with pytest.raises(ValueError, match="weights"):
        fold_in_user(m, [1, 2], [1.0])
    with pytest.raises(ValueError, match="weights"):
        fold_in_user(m, [1, 2], [1.0, -1.0])
    with pytest.raises(ValueError, match="k"):
        recommend_new_user(m, [1], k=0)
    with pytest.raises(TypeError, match="item_lists"):
        fold_in_users(m, "abc")
    with pytest.raises(gr.NotFittedError):
        fold_in_user(SVD(), [1])


def test_save_load_round_trip_keeps_cold_start_results(communities, tmp_path):
    m = SVD(embedding_dim=3).fit(communities)
    m.save(tmp_path / "m")
    loaded = SVD._from_state(read_state(tmp_path / "m"))  # SVD is not in the registry
    lists = [[1, 2], [15, 11]]
    for method in ("propagation", "ridge", "mean"):
        a = recommend_new_users(m, lists, k=5, method=method, rerank="mmr")
        b = recommend_new_users(loaded, lists, k=5, method=method, rerank="mmr")
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_content_item_mapper_recovers_a_linear_map():
    rng = np.random.default_rng(0)
    feats = sp.csr_array((rng.random((300, 12)) < 0.3).astype(np.float32))
    w = rng.normal(size=(12, 4))
    emb = feats @ w + 0.5
    mapper = ContentItemMapper(alpha=1e-6).fit(feats[:250], emb[:250])
    assert np.allclose(mapper.transform(feats[250:]), emb[250:], atol=1e-3)
    assert mapper.transform(feats[250:]).dtype == np.float32
    with pytest.raises(ValueError, match="rows"):
        ContentItemMapper().fit(feats[:10], emb[:9])
    with pytest.raises(ValueError, match="columns"):
        mapper.transform(feats[:, :5])
    with pytest.raises(ValueError, match="alpha"):
        ContentItemMapper(alpha=-1.0).fit(feats, emb)
    with pytest.raises(gr.NotFittedError):
        ContentItemMapper().transform(feats)


def test_content_features():
    info = pd.DataFrame(
        {
            "title": ["Toy Story (1995)", "Toy Soldiers (1991)", "Heat (1995)"],
            "genres": ["Animation|Comedy", "Action", "Action|Crime"],
        }
    )
    f = content_features(info)
    assert f.shape == (3, 4 + 2)  # 4 genres, tokens in >= 2 titles: "toy", "1995"
    assert f[[0]].toarray()[0, :4].tolist() == [0, 1, 1, 0]  # Action, Animation, Comedy, Crime
    assert content_features(info, title=None).shape == (3, 4)
    with pytest.raises(ValueError, match="plot"):
        content_features(info, title="plot")


def test_graph_filter_closed_form_on_a_new_row(communities):
    from graphrec.models.graph_filter import GraphFilter

    m = GraphFilter(n_components=2, random_state=0).fit(communities)
    seen = m.seen_
    for u in (0, 13):
        items = seen.indices[seen.indptr[u] : seen.indptr[u + 1]]
        assert np.allclose(fold_in_user(m, items), m.user_embeddings_[u], atol=1e-5)
        trained = m.recommend([u], k=5)
        folded = recommend_new_user(m, items, k=5)
        assert np.allclose(folded[1], trained[1][0], atol=1e-5)
        assert np.allclose(m.score([u])[0, folded[0]], folded[1], atol=1e-5)  # ties may reorder
