"""DeepWalk and Item2Vec: planted communities, seeds, validation, persistence."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import graphrec as gr
from graphrec.data.synthetic import synthetic
from graphrec.models.deepwalk import DeepWalk, Item2Vec

FAST = {"embedding_dim": 16, "device": "cpu", "random_state": 0, "lr": 0.2}


@pytest.fixture(scope="module")
def planted():
    return synthetic(n_users=90, n_items=45, n_communities=3, interactions_per_user=8, noise=0.0, random_state=2)


def _community_checks(model, ds):
    comm = ds.user_info["community"].to_numpy()
    cat = ds.item_info["category"].to_numpy()
    scores = model.score(np.arange(ds.train.n_users))
    other = np.where(cat[None, :] != comm[:, None], scores, -np.inf).max(axis=1)
    held = scores[ds.test.user_idx, ds.test.item_idx]
    # held-out own-community items beat every item of the other communities
    assert (held > other[ds.test.user_idx]).mean() > 0.95
    idx, _ = model.recommend(np.arange(ds.train.n_users), k=3)
    assert (cat[idx] == comm[:, None]).mean() > 0.95


@pytest.mark.parametrize("item_vectors", ["context", "node"])
def test_deepwalk_planted_communities(planted, item_vectors):
    m = DeepWalk(walks_per_node=5, batch_size=256, item_vectors=item_vectors, **FAST).fit(planted.train)
    assert m.user_embeddings_.shape == (90, 16) and m.item_embeddings_.shape == (45, 16)
    assert m.user_embeddings_.dtype == np.float32
    _community_checks(m, planted)


def test_item2vec_planted_communities(planted):
    m = Item2Vec(epochs=20, batch_size=128, **FAST).fit(planted.train)
    _community_checks(m, planted)
    assert m.loss_history_[-1] < m.loss_history_[0]


def test_cosine_similarity_and_similar_items(planted):
    m = DeepWalk(walks_per_node=5, batch_size=256, similarity="cosine", **FAST).fit(planted.train)
    s = m.score([0, 1])
    assert s.min() >= -1.0001 and s.max() <= 1.0001
    cat = planted.item_info["category"].to_numpy()
    idx, _ = m.similar_items([0, 1, 2], k=3)
    assert (cat[idx] == cat[[0, 1, 2]][:, None]).mean() > 0.8


@pytest.mark.parametrize("cls", [DeepWalk, Item2Vec])
def test_same_seed_same_embeddings(planted, cls):
    a = cls(**FAST).fit(planted.train)
    b = cls(**FAST).fit(planted.train)
    c = cls(**{**FAST, "random_state": 1}).fit(planted.train)
    np.testing.assert_array_equal(a.user_embeddings_, b.user_embeddings_)
    np.testing.assert_array_equal(a.item_embeddings_, b.item_embeddings_)
    assert not np.array_equal(a.item_embeddings_, c.item_embeddings_)


def test_node2vec_walks_and_epochs(planted):
    m = DeepWalk(walks_per_node=4, p=0.5, q=2.0, epochs=3, **FAST).fit(planted.train)
    assert len(m.loss_history_) == 3 and np.isfinite(m.loss_history_).all()


@pytest.mark.parametrize(
    "params, name",
    [
        ({"embedding_dim": 0}, "embedding_dim"),
        ({"walk_length": 1}, "walk_length"),
        ({"window": 0}, "window"),
        ({"negatives": 0}, "negatives"),
        ({"walks_per_node": 0}, "walks_per_node"),
        ({"epochs": 0}, "epochs"),
        ({"lr": 0.0}, "lr"),
        ({"neg_exponent": -1.0}, "neg_exponent"),
        ({"neg_share": 0}, "neg_share"),
        ({"p": 0.0}, "p"),
        ({"item_vectors": "both"}, "item_vectors"),
        ({"similarity": "euclid"}, "similarity"),
        ({"embedding_dim": 2.5}, "embedding_dim"),
    ],
)
def test_deepwalk_bad_hyperparameters(checkerboard, params, name):
    with pytest.raises(ValueError, match=name):
        DeepWalk(**params).fit(checkerboard[0])


@pytest.mark.parametrize("params, name", [({"embedding_dim": -3}, "embedding_dim"), ({"window": 0}, "window"),
                                          ({"negatives": 0}, "negatives")])
def test_item2vec_bad_hyperparameters(checkerboard, params, name):
    with pytest.raises(ValueError, match=name):
        Item2Vec(**params).fit(checkerboard[0])


def test_divergence_raises_training_error(planted):
    with pytest.raises(gr.TrainingError, match="lr"):
        DeepWalk(**{**FAST, "lr": 1e30}, walks_per_node=5).fit(planted.train)


@pytest.mark.parametrize("cls", [DeepWalk, Item2Vec])
def test_save_load_and_pickle(tmp_path, planted, cls):
    m = cls(**FAST).fit(planted.train)
    m.save(tmp_path / "m")
    m2 = gr.load(tmp_path / "m")
    assert type(m2) is cls and m2.get_params() == m.get_params()
    np.testing.assert_array_equal(m2.recommend([0, 3], k=5)[0], m.recommend([0, 3], k=5)[0])
    m3 = pickle.loads(pickle.dumps(m))
    np.testing.assert_allclose(m3.score([0]), m.score([0]))


def test_isolated_items_get_finite_scores():
    x = gr.Interactions.from_arrays([0, 0, 1, 2], [0, 1, 1, 2], n_users=3, n_items=5)  # items 3, 4 unseen
    m = DeepWalk(walks_per_node=2, **FAST).fit(x)
    assert np.isfinite(m.score([0, 1, 2])).all()
    assert np.isfinite(Item2Vec(**FAST).fit(x).score([0, 1, 2])).all()
