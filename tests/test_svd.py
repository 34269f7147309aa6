"""PureSVD: the dense-SVD known answer, exact fold-in, seeds, validation, persistence, contract."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone

import graphrec as gr
from graphrec.coldstart import fold_in_users
from graphrec.models.svd import PureSVD
from graphrec.persistence import read_state


@pytest.fixture(scope="module")
def random_graph():
    """12 users x 10 items, random but with distinct singular values (a unique top-k subspace)."""
    rng = np.random.default_rng(0)
    dense = (rng.random((12, 10)) < 0.35).astype(np.float32)
    dense[np.arange(12), np.arange(12) % 10] = 1  # no isolated user or item
    u, i = np.nonzero(dense)
    return gr.Interactions.from_arrays(u, i, n_users=12, n_items=10)


@pytest.fixture(scope="module")
def data():
    return gr.datasets.synthetic(n_users=60, n_items=40, n_communities=3, random_state=0)


def _dense_matrix(r, normalize, e):
    if normalize is None:
        return r
    du, di = r.sum(1), r.sum(0)
    a = r * di[None, :] ** -e
    return a * du[:, None] ** -e if normalize == "symmetric" else a


@pytest.mark.parametrize(("normalize", "exponent"), [(None, 0.5), ("item", 0.3), ("symmetric", 0.5)])
def test_scores_match_dense_svd(random_graph, normalize, exponent):
    x = random_graph
    k = 3
    m = PureSVD(embedding_dim=k, normalize=normalize, exponent=exponent, n_iter=10, random_state=0).fit(x)
    r = x.to_csr().toarray().astype(np.float64)
    _, s, vt = np.linalg.svd(_dense_matrix(r, normalize, exponent))
    assert s[k - 1] - s[k] > 1e-2  # the top-k subspace is well defined
    di = r.sum(0) ** (-exponent if normalize else 0.0)  # scores undo the item normalisation
    expected = r @ np.diag(di) @ vt[:k].T @ vt[:k] @ np.diag(1 / di)
    np.testing.assert_allclose(m.score(np.arange(12)), expected, atol=1e-4)
    np.testing.assert_allclose(m.item_scale_, di, rtol=1e-6)
    np.testing.assert_allclose(m.singular_values_, s[:k], rtol=1e-4)
    v = m.item_embeddings_ * m.item_scale_[:, None]  # V: orthonormal columns
    np.testing.assert_allclose(v.T @ v, np.eye(k), atol=1e-5)
    assert m.user_embeddings_.dtype == np.float32 and m.item_embeddings_.shape == (10, k)
    assert m.user_embeddings_.shape == (12, k)


def test_weights_used_when_not_binary():
    x = gr.Interactions.from_arrays([0, 0, 1, 2, 2, 3], [0, 1, 1, 0, 2, 2], weights=[5, 1, 3, 2, 4, 1],
                                    n_users=4, n_items=3)
    m = PureSVD(embedding_dim=2, binary=False, n_iter=10, random_state=0).fit(x)
    r = x.to_csr().toarray().astype(np.float64)
    _, _, vt = np.linalg.svd(r)
    np.testing.assert_allclose(m.score(np.arange(4)), r @ vt[:2].T @ vt[:2], atol=1e-4)
    assert not np.allclose(PureSVD(embedding_dim=2, random_state=0).fit(x).score(np.arange(4)),
                           m.score(np.arange(4)), atol=1e-3)


def test_fold_in_of_training_users_is_exact(random_graph):
    x = random_graph
    m = PureSVD(embedding_dim=4, normalize="symmetric", random_state=0).fit(x)
    rows = x.to_csr()
    np.testing.assert_allclose(m.fold_in(rows), m.user_embeddings_, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(m.score_new_users(rows), m.score(np.arange(12)), rtol=1e-5, atol=1e-6)
    # through the public cold-start door, from item lists
    lists = [rows.indices[rows.indptr[u] : rows.indptr[u + 1]] for u in range(3)]
    np.testing.assert_allclose(fold_in_users(m, lists), m.user_embeddings_[:3], rtol=1e-5, atol=1e-6)
    # a generic method still reaches the base-class fold-in
    assert m.fold_in(rows[:2], method="mean").shape == (2, 4)
    with pytest.raises(ValueError, match="method"):
        m.fold_in(rows, method="nope")
    with pytest.raises(ValueError, match="columns"):
        m.fold_in(sp.csr_array((1, 3)))


def test_checkerboard_held_out_item_first(checkerboard):
    train, test = checkerboard
    m = PureSVD(embedding_dim=2, random_state=0).fit(train)
    idx, _ = m.recommend(np.arange(8), k=1)
    np.testing.assert_array_equal(idx[:, 0], test.item_idx[np.argsort(test.user_idx)])


def test_same_seed_same_result(data):
    a = PureSVD(embedding_dim=8, random_state=3).fit(data.train)
    b = PureSVD(embedding_dim=8, random_state=3).fit(data.train)
    np.testing.assert_array_equal(a.item_embeddings_, b.item_embeddings_)
    np.testing.assert_array_equal(a.score(np.arange(5)), b.score(np.arange(5)))


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"embedding_dim": 0}, "embedding_dim"),
        ({"embedding_dim": 2.5}, "embedding_dim"),
        ({"embedding_dim": 40}, "embedding_dim"),  # not < min(n_users, n_items) = 40
        ({"normalize": "rows"}, "normalize"),
        ({"exponent": -0.5}, "exponent"),
        ({"exponent": float("nan")}, "exponent"),
        ({"binary": "yes"}, "binary"),
        ({"n_iter": -1}, "n_iter"),
        ({"n_oversamples": -1}, "n_oversamples"),
        ({"similarity": "euclid"}, "similarity"),
    ],
)
def test_bad_hyperparameters_name_the_parameter(data, params, name):
    with pytest.raises(ValueError, match=name):
        PureSVD(**params).fit(data.train)


def test_largest_rank_allowed(data):
    m = PureSVD(embedding_dim=39, random_state=0).fit(data.train)  # min(60, 40) - 1
    assert m.item_embeddings_.shape == (40, 39)


def test_failed_fit_leaves_no_fitted_state(data):
    m = PureSVD(embedding_dim=8, random_state=0).fit(data.train)
    m.set_params(embedding_dim=40)
    with pytest.raises(ValueError, match="embedding_dim"):
        m.fit(data.train)
    with pytest.raises(gr.NotFittedError):
        m.recommend([0])


def test_contract_locally(data, tmp_path):
    """The checks of tests/test_contract.py, run here until PureSVD is registered."""
    m = PureSVD(embedding_dim=8, random_state=0)
    with pytest.raises(gr.NotFittedError):
        m.recommend([0])
    assert m.fit(data.train) is m
    users = np.arange(10)
    idx, scores = m.recommend(users, k=5)
    for u in users:
        _, s1 = m.recommend([u], k=5)
        np.testing.assert_allclose(s1[0], scores[u], rtol=1e-5, atol=1e-6)
    idx, scores = m.recommend(np.arange(data.train.n_users), k=10)
    seen = data.train.to_csr()
    for u in range(data.train.n_users):
        assert not set(idx[u]) & set(seen.indices[seen.indptr[u] : seen.indptr[u + 1]])
        assert np.all(np.diff(scores[u]) <= 1e-6)
    again = pickle.loads(pickle.dumps(m))
    np.testing.assert_array_equal(again.recommend(users, 5)[0], m.recommend(users, 5)[0])
    assert clone(m).get_params() == m.get_params()
    m.save(tmp_path / "m")
    loaded = PureSVD._from_state(read_state(tmp_path / "m"))  # gr.load once registered
    assert isinstance(loaded, PureSVD) and loaded.get_params() == m.get_params()
    np.testing.assert_allclose(loaded.score(users), m.score(users), rtol=1e-6)
    np.testing.assert_array_equal(loaded.singular_values_, m.singular_values_)
    assert gr.evaluate(m, data.test, k=10)["recall@10"] > 2 * 10 / data.train.n_items


def test_explain_weighting():
    assert PureSVD().explain_weighting() == "count"
    assert PureSVD(normalize="symmetric").explain_weighting() == "normalized"
