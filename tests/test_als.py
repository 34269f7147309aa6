"""ALS: CG against the exact normal equations, fold-in, checks, persistence, determinism."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone

import graphrec as gr
from graphrec.data.synthetic import synthetic
from graphrec.models.als import ALS, confidence_matrix, least_squares
from graphrec.persistence import read_state


@pytest.fixture(scope="module")
def planted():
    return synthetic(n_users=80, n_items=40, n_communities=3, interactions_per_user=8, random_state=0)


@pytest.fixture(scope="module")
def problem():
    """Random confidences on 30 rows x 25 columns (some rows empty), random fixed factors."""
    rng = np.random.default_rng(0)
    dense = (rng.random((30, 25)) < 0.3) * rng.integers(1, 5, (30, 25))
    dense[:3] = 0  # rows without interactions
    conf = confidence_matrix(sp.csr_array(dense.astype(np.float32)), alpha=5.0)
    fixed = rng.normal(0, 0.5, (25, 6)).astype(np.float32)
    return conf, fixed


def _normal_equations(conf, fixed, reg):
    """Per-row dense solve of (F^T C_u F + reg I) x = F^T C_u p_u, float64."""
    c = conf.toarray().astype(np.float64)
    p = (c > 0).astype(np.float64)
    c[c == 0] = 1.0
    f = fixed.astype(np.float64)
    out = np.empty((c.shape[0], f.shape[1]))
    for u in range(c.shape[0]):
        a = f.T @ (c[u][:, None] * f) + reg * np.eye(f.shape[1])
        out[u] = np.linalg.solve(a, f.T @ (c[u] * p[u]))
    return out


def test_confidence_scalings():
    w = sp.csr_array(np.array([[0.0, 1.0, 3.0]]))
    np.testing.assert_allclose(confidence_matrix(w, alpha=2.0).toarray(), [[0, 3, 7]])
    log = confidence_matrix(w, alpha=2.0, scaling="log", epsilon=0.5).toarray()
    np.testing.assert_allclose(log, [[0, 1 + 2 * np.log(3), 1 + 2 * np.log(7)]], rtol=1e-6)


@pytest.mark.parametrize("n_threads", [1, 2])
def test_cholesky_and_cg_match_normal_equations(problem, n_threads):
    conf, fixed = problem
    exact = _normal_equations(conf, fixed, reg=0.3)
    chol, _ = least_squares(conf, fixed, regularization=0.3, solver="cholesky", n_threads=n_threads)
    np.testing.assert_allclose(chol, exact, atol=1e-5)
    # CG converges in at most d steps in exact arithmetic; a few more absorb float32 rounding
    cg, _ = least_squares(conf, fixed, regularization=0.3, solver="cg", cg_steps=12, block_size=16,
                          n_threads=n_threads)
    np.testing.assert_allclose(cg, exact, atol=1e-4)
    # few steps from zero are not yet the solution: the check above can fail
    rough, _ = least_squares(conf, fixed, regularization=0.3, solver="cg", cg_steps=1)
    assert np.abs(rough - exact).max() > 1e-3


def test_cg_loss_is_the_weighted_squared_error(problem):
    conf, fixed = problem
    x, loss = least_squares(conf, fixed, regularization=0.3, solver="cg", cg_steps=4)
    c = conf.toarray().astype(np.float64)
    p = (c > 0).astype(np.float64)
    c[c == 0] = 1.0
    expect = np.sum(c * (p - x.astype(np.float64) @ fixed.T.astype(np.float64)) ** 2)
    assert loss == pytest.approx(expect, rel=1e-4)


def test_loss_decreases_and_communities_recovered(planted):
    m = ALS(embedding_dim=8, iterations=6, random_state=0).fit(planted.train)
    assert m.loss_history_[-1] < m.loss_history_[0]
    assert gr.evaluate(m, planted.test, k=10)["recall@10"] > 3 * 10 / planted.train.n_items


def test_fold_in_reproduces_training_users(planted):
    m = ALS(embedding_dim=8, iterations=4, solver="cholesky", random_state=0).fit(planted.train)
    rows = planted.train.to_csr()
    np.testing.assert_allclose(m.fold_in(rows), m.user_embeddings_, atol=1e-4)
    np.testing.assert_allclose(m.score_new_users(rows[[5]])[0], m.score([5])[0], atol=1e-4)
    # CG: after convergence the fold-in is the learned factors too
    cg = ALS(embedding_dim=8, iterations=40, cg_steps=8, random_state=0).fit(planted.train)
    np.testing.assert_allclose(cg.fold_in(rows), cg.user_embeddings_, atol=1e-4)
    # items: the exact solve against the user factors, with the model's confidences
    cols = sp.csr_array(rows.T)
    expect = _normal_equations(confidence_matrix(cols, alpha=m.alpha), m.user_embeddings_, m.regularization)
    np.testing.assert_allclose(m.fold_in_items(cols[:7]), expect[:7], rtol=1e-4, atol=1e-4)
    # other methods are the base class's
    assert m.fold_in(rows[[0]], method="mean").shape == (1, 8)


def test_fold_in_user_without_items_is_zero(planted):
    m = ALS(embedding_dim=4, iterations=2, random_state=0).fit(planted.train)
    empty = sp.csr_array((1, planted.train.n_items), dtype=np.float32)
    np.testing.assert_array_equal(m.fold_in(empty), np.zeros((1, 4), np.float32))
    with pytest.raises(ValueError, match="columns"):
        m.fold_in_items(sp.csr_array((1, 3)))
    with pytest.raises(TypeError):
        m.fold_in_items(np.ones((1, planted.train.n_users)))


@pytest.mark.parametrize(
    ("param", "value"),
    [("embedding_dim", 0), ("alpha", -1.0), ("regularization", 0.0), ("scaling", "sqrt"),
     ("epsilon", 0), ("iterations", 0), ("solver", "lu"), ("cg_steps", 0), ("block_size", 0),
     ("n_threads", 0), ("init_scale", 0), ("eval_every", 0), ("patience", 0), ("time_budget", -1),
     ("similarity", "l2")],
)
def test_bad_hyperparameters_name_the_parameter(planted, param, value):
    with pytest.raises(ValueError, match=param):
        ALS(**{param: value}).fit(planted.train)


def test_same_seed_same_factors_and_round_trips(planted, tmp_path):
    a = ALS(embedding_dim=8, iterations=3, random_state=3, n_threads=2, block_size=32).fit(planted.train)
    b = ALS(embedding_dim=8, iterations=3, random_state=3, n_threads=1, block_size=32).fit(planted.train)
    np.testing.assert_array_equal(a.user_embeddings_, b.user_embeddings_)
    c = ALS(embedding_dim=8, iterations=3, random_state=4).fit(planted.train)
    assert not np.array_equal(a.user_embeddings_, c.user_embeddings_)
    a.save(tmp_path / "m")
    loaded = ALS._from_state(read_state(tmp_path / "m"))  # ALS is not in the registry yet
    np.testing.assert_array_equal(loaded.recommend(np.arange(5), 5)[0], a.recommend(np.arange(5), 5)[0])
    np.testing.assert_array_equal(loaded.fold_in(planted.train.to_csr()[[1]]), a.fold_in(planted.train.to_csr()[[1]]))
    again = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(again.score([0]), a.score([0]))
    assert clone(a).get_params() == a.get_params()


def test_validation_early_stopping_restores_best(planted):
    m = ALS(embedding_dim=8, iterations=30, patience=2, random_state=0).fit(planted.train, planted.test)
    validated = [h for h in m.history_ if "metrics" in h]
    best = max(validated, key=lambda h: h["metrics"]["recall@20"])
    assert m.best_epoch_ == best["epoch"]
    assert gr.evaluate(m, planted.test, k=20)["recall@20"] == pytest.approx(best["metrics"]["recall@20"])
    assert m.stopped_ in ("early_stopping", "epochs")
    if m.stopped_ == "early_stopping":
        assert len(m.history_) < 30


def test_time_budget_stops_after_the_iteration(planted):
    m = ALS(embedding_dim=4, iterations=1000, time_budget=1e-9, random_state=0).fit(planted.train)
    assert m.stopped_ == "time_budget"
    assert len(m.history_) == 1


def test_weights_scale_confidence(planted):
    x = planted.train
    heavy = gr.Interactions.from_arrays(x.user_idx, x.item_idx, weights=np.full(x.nnz, 3.0),
                                        n_users=x.n_users, n_items=x.n_items)
    a = ALS(embedding_dim=4, iterations=2, alpha=3.0, random_state=0).fit(heavy)
    b = ALS(embedding_dim=4, iterations=2, alpha=9.0, random_state=0).fit(x)
    np.testing.assert_allclose(a.user_embeddings_, b.user_embeddings_, rtol=1e-5, atol=1e-6)
