"""GraphFilter (GF-CF): known answers on tiny graphs, communities, validation, persistence."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import graphrec as gr
from graphrec.data.synthetic import synthetic
from graphrec.graph import normalized_interactions
from graphrec.models.graph_filter import GraphFilter


@pytest.fixture(scope="module")
def planted():
    return synthetic(n_users=120, n_items=60, n_communities=3, interactions_per_user=8, noise=0.0, random_state=1)


def test_linear_filter_matches_dense_formula(checkerboard):
    train, _ = checkerboard
    m = GraphFilter(n_components=0).fit(train)
    rn = normalized_interactions(train).toarray()
    r = train.to_csr().toarray()
    np.testing.assert_allclose(m.score(np.arange(8)), r @ rn.T @ rn, rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def random_graph():
    """12 users x 10 items, random but with distinct singular values (a unique top-k subspace)."""
    rng = np.random.default_rng(0)
    dense = (rng.random((12, 10)) < 0.35).astype(np.float32)
    dense[np.arange(12), np.arange(12) % 10] = 1  # no isolated user or item
    u, i = np.nonzero(dense)
    return gr.Interactions.from_arrays(u, i, n_users=12, n_items=10)


@pytest.mark.parametrize("solver", ["arpack", "randomized"])
def test_full_filter_matches_dense_formula(random_graph, solver):
    x = random_graph
    m = GraphFilter(n_components=3, alpha=0.3, solver=solver, n_iter=10, random_state=0).fit(x)
    rn = normalized_interactions(x).toarray().astype(np.float64)
    r = x.to_csr().toarray()
    d = r.sum(0)
    _, s, vt = np.linalg.svd(rn)
    assert s[2] - s[3] > 1e-2  # the top-3 subspace is well defined
    ideal = np.diag(d**-0.5) @ vt[:3].T @ vt[:3] @ np.diag(d**0.5)
    expected = r @ rn.T @ rn + 0.3 * r @ ideal
    np.testing.assert_allclose(m.score(np.arange(12)), expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(m.user_embeddings_ @ m.item_embeddings_.T, r @ ideal, atol=1e-4)
    np.testing.assert_allclose(m.singular_values_, s[:3], rtol=1e-4)
    assert m.user_embeddings_.dtype == np.float32 and m.item_embeddings_.shape == (10, 3)


def test_checkerboard_held_out_item_first(checkerboard):
    train, test = checkerboard
    m = GraphFilter(n_components=2, random_state=0).fit(train)
    idx, _ = m.recommend(np.arange(8), k=1)
    np.testing.assert_array_equal(idx[:, 0], test.item_idx[np.argsort(test.user_idx)])


@pytest.mark.parametrize("solver", ["randomized", "arpack"])
def test_planted_communities(planted, solver):
    m = GraphFilter(n_components=4, solver=solver, random_state=0).fit(planted.train)
    comm = planted.user_info["community"].to_numpy()
    cat = planted.item_info["category"].to_numpy()
    scores = m.score(np.arange(planted.train.n_users))
    other = np.where(cat[None, :] != comm[:, None], scores, -np.inf).max(axis=1)
    held = scores[planted.test.user_idx, planted.test.item_idx]
    assert (held > other[planted.test.user_idx]).all()  # every held-out item beats every other community
    idx, _ = m.recommend(np.arange(planted.train.n_users), k=3)
    assert (cat[idx] == comm[:, None]).all()


def test_same_seed_same_result(planted):
    a = GraphFilter(n_components=5, random_state=3).fit(planted.train)
    b = GraphFilter(n_components=5, random_state=3).fit(planted.train)
    np.testing.assert_array_equal(a.item_embeddings_, b.item_embeddings_)
    np.testing.assert_array_equal(a.score([0, 1]), b.score([0, 1]))


def test_randomized_agrees_with_arpack(planted):
    a = GraphFilter(n_components=3, random_state=0).fit(planted.train)
    b = GraphFilter(n_components=3, solver="arpack", random_state=0).fit(planted.train)
    np.testing.assert_allclose(a.singular_values_, b.singular_values_, rtol=1e-3)
    np.testing.assert_allclose(a.score(np.arange(10)), b.score(np.arange(10)), atol=1e-3)


@pytest.mark.parametrize(
    "params, name",
    [
        ({"n_components": -1}, "n_components"),
        ({"n_components": 8}, "n_components"),  # checkerboard: min(8, 8) = 8 singular values at most, 7 allowed
        ({"n_components": 2.5}, "n_components"),
        ({"alpha": -0.1}, "alpha"),
        ({"solver": "lanczos"}, "solver"),
        ({"n_iter": -1}, "n_iter"),
    ],
)
def test_bad_hyperparameters(checkerboard, params, name):
    with pytest.raises(ValueError, match=name):
        GraphFilter(**params).fit(checkerboard[0])


def test_bad_similarity(checkerboard):
    m = GraphFilter(n_components=2).fit(checkerboard[0])
    with pytest.raises(ValueError, match="similarity"):
        m.score([0], similarity="cosine")


def test_save_load_and_pickle(tmp_path, planted):
    m = GraphFilter(n_components=4, random_state=0).fit(planted.train)
    m.save(tmp_path / "gf")
    m2 = gr.load(tmp_path / "gf")
    assert isinstance(m2, GraphFilter) and m2.get_params() == m.get_params()
    np.testing.assert_allclose(m2.score([0, 5]), m.score([0, 5]), rtol=1e-6)
    m3 = pickle.loads(pickle.dumps(m))
    np.testing.assert_allclose(m3.score([0, 5]), m.score([0, 5]), rtol=1e-6)


def test_weights_are_ignored(planted):
    x = planted.train
    w = gr.Interactions.from_arrays(x.user_idx, x.item_idx, weights=np.full(x.nnz, 3.0),
                                    n_users=x.n_users, n_items=x.n_items)
    a = GraphFilter(n_components=3, random_state=0).fit(x)
    b = GraphFilter(n_components=3, random_state=0).fit(w)
    np.testing.assert_allclose(a.score([0, 1]), b.score([0, 1]), rtol=1e-5)


def test_memory_budget_factored_path_matches_the_item_item_matrix(planted):
    import scipy.sparse as sp

    a = GraphFilter(n_components=4, random_state=0).fit(planted.train)
    b = GraphFilter(n_components=4, random_state=0, memory_budget=1e-9).fit(planted.train)
    assert (a.propagation_, b.propagation_) == ("sparse", "factored") and b.item_filter_.nnz == 0
    users = np.arange(planted.train.n_users)
    np.testing.assert_allclose(a.score(users), b.score(users), atol=1e-5)
    rows = sp.csr_array(planted.train.to_csr()[:5])
    np.testing.assert_allclose(a.score_new_users(rows), b.score_new_users(rows), atol=1e-5)
    with pytest.raises(ValueError, match="memory_budget"):
        GraphFilter(memory_budget=0).fit(planted.train)
