"""SpectralFilter: each response against a dense eigendecomposition of P, BSPM's steps, paths, errors."""

from __future__ import annotations

import logging
import math
import pickle

import numpy as np
import pytest

import graphrec as gr
from graphrec.models.spectral import (
    SpectralFilter,
    ode_step_polynomial,
    plateau_coefficients,
)


@pytest.fixture(scope="module")
def graph():
    """15 users x 12 items, random, every user and item with an interaction."""
    rng = np.random.default_rng(3)
    dense = (rng.random((15, 12)) < 0.3).astype(np.float64)
    dense[np.arange(15), np.arange(15) % 12] = 1
    u, i = np.nonzero(dense)
    return gr.Interactions.from_arrays(u, i, n_users=15, n_items=12), dense


def _dense_p(r: np.ndarray, a: float = 0.5, b: float = 0.5, s: float = 1.0) -> np.ndarray:
    rn = r * (r.sum(1, keepdims=True) ** -a) * (r.sum(0, keepdims=True) ** -b)
    return (rn.T @ rn) ** s


def _eig(p: np.ndarray):
    lam, v = np.linalg.eigh(p)
    order = np.argsort(-lam)
    return lam[order], v[:, order]


def _through_eig(r, p, f, beta=0.0):
    """``r d^-beta V f(Lambda) V^T d^beta`` from numpy.linalg.eigh."""
    lam, v = _eig(p)
    d = r.sum(0)
    return (r * d**-beta) @ (v * f(lam)) @ v.T * d**beta


def _ideal(r, p, k, gamma):
    lam, v = _eig(p)
    assert lam[k - 1] - lam[k] > 1e-3  # the top-k subspace is well defined
    d = r.sum(0)
    return (r * d**-gamma) @ v[:, :k] @ v[:, :k].T * d**gamma


def test_plateau_coefficients_are_chebycf_published():
    expected = [0.5, -0.4927, 0, -0.0323, 0, 0.0211, 0, -0.0011, 0]
    np.testing.assert_allclose(plateau_coefficients(8, 1.5), expected, atol=6e-5)


@pytest.mark.parametrize("propagation", ["sparse", "factored"])
@pytest.mark.parametrize("order, flatness, beta", [(8, 1.5, 0.4), (5, 1.0, 0.0), (3, 2.5, 0.25)])
def test_chebyshev_matches_eigendecomposition(graph, propagation, order, flatness, beta):
    x, r = graph
    m = SpectralFilter(response="chebyshev", order=order, flatness=flatness, degree_exponent=beta,
                       ideal_weight=0.0, propagation=propagation, device="cpu").fit(x)
    c = plateau_coefficients(order, flatness)
    expected = _through_eig(r, _dense_p(r), lambda lam: np.polynomial.chebyshev.chebval(1 - 2 * lam, c), beta)
    np.testing.assert_allclose(m.score(np.arange(15)), expected, atol=1e-5)
    assert m.propagation_ == propagation and m.n_components_ == 0


def test_chebycf_with_ideal_term(graph):
    x, r = graph
    m = SpectralFilter(n_components=4, ideal_weight=0.2, degree_exponent=0.4, n_iter=20, device="cpu").fit(x)
    p = _dense_p(r)
    c = plateau_coefficients(8, 1.5)
    expected = _through_eig(r, p, lambda lam: np.polynomial.chebyshev.chebval(1 - 2 * lam, c), 0.4)
    expected += 0.2 * _ideal(r, p, 4, 0.4)
    np.testing.assert_allclose(m.score(np.arange(15)), expected, atol=1e-5)


def _taylor_exp(z: float, terms: int = 5) -> np.ndarray:
    return np.array([z**j / math.factorial(j) for j in range(terms)])


def test_rk4_one_step_is_the_taylor_expansion_of_exp():
    np.testing.assert_allclose(ode_step_polynomial("rk4", 2.5, -1.0, 0.0).coef, _taylor_exp(-2.5), rtol=1e-12)
    np.testing.assert_allclose(ode_step_polynomial("euler", 0.3, -1.0, 0.0).coef, [1.0, -0.3])


@pytest.mark.parametrize("propagation", ["sparse", "factored"])
def test_bspm_early_merge_rk4_matches_taylor_of_exp(graph, propagation):
    """BSPM-EM, one RK4 sharpening step: (r P + w idl(r)) sum_j (-T P)^j / j!, j <= 4 (matrix powers)."""
    x, r = graph
    t, w = 2.5, 0.2
    m = SpectralFilter(response="bspm", sharpen_time=t, sharpen_steps=1, sharpen_solver="rk4", merge="early",
                       n_components=4, ideal_weight=w, degree_exponent=0.0, ideal_exponent=0.5, n_iter=20,
                       propagation=propagation, device="cpu").fit(x)
    p = _dense_p(r)
    taylor = sum(np.linalg.matrix_power(-t * p, j) / math.factorial(j) for j in range(5))
    expected = (r @ p + w * _ideal(r, p, 4, 0.5)) @ taylor
    np.testing.assert_allclose(m.score(np.arange(15)), expected, atol=1e-5)
    lam, _ = _eig(p)
    np.testing.assert_allclose(m.response_function(lam), lam * np.polyval(_taylor_exp(-t)[::-1], lam), atol=1e-10)


@pytest.mark.parametrize("merge", ["early", "late"])
@pytest.mark.parametrize("solvers", [("euler", "euler"), ("rk4", "rk4")])
def test_bspm_steps_t_points_and_merges_match_eigendecomposition(graph, merge, solvers):
    x, r = graph
    tb, kb, ts, ks, w = 1.5, 2, 1.2, 3, 0.3
    m = SpectralFilter(response="bspm", blur_time=tb, blur_steps=kb, blur_solver=solvers[0], sharpen_time=ts,
                       sharpen_steps=ks, sharpen_solver=solvers[1], merge=merge, t_point_combination=True,
                       n_components=4, ideal_weight=w, degree_exponent=0.0, ideal_exponent=0.5, n_iter=20,
                       device="cpu").fit(x)
    p = _dense_p(r)
    lam, v = _eig(p)

    def step(solver, z):
        return 1 + z if solver == "euler" else 1 + z + z**2 / 2 + z**3 / 6 + z**4 / 24

    blur = step(solvers[0], tb / kb * (lam - 1))
    sharp = step(solvers[1], -ts / ks * lam)
    blur_states = [blur**j for j in range(1, kb + 1)]
    sharp_states = [sharp**j for j in range(1, ks + 1)]
    n = kb + ks
    f = (sum(blur_states) + blur_states[-1] * sum(sharp_states)) / n
    ideal = w * _ideal(r, p, 4, 0.5)
    if merge == "early":
        expected = r @ (v * f) @ v.T + ideal @ (v * (sum(sharp_states) / n)) @ v.T
    else:
        expected = r @ (v * f) @ v.T + ideal
    np.testing.assert_allclose(m.score(np.arange(15)), expected, atol=1e-5)


@pytest.mark.parametrize("coefs", [(0.0, 1.0), (0.0, 2.0, -1.0), (0.0, 0.71, 0.1, -0.01)])
def test_turbo_cf_polynomials_match_eigendecomposition(graph, coefs):
    """Turbo-CF: P = (R~^T R~)^(o s), R~ = Du^-a R Di^-(1-a), score r f(P) (f1, f2, f3)."""
    x, r = graph
    a, s = 0.6, 0.7
    m = SpectralFilter(response="polynomial", coefficients=coefs, user_exponent=a, item_exponent=1 - a,
                       hadamard_power=s, degree_exponent=0.0, ideal_weight=0.0, device="cpu").fit(x)
    p = _dense_p(r, a, 1 - a, s)
    expected = _through_eig(r, p, lambda lam: np.polyval(np.asarray(coefs)[::-1], lam))
    np.testing.assert_allclose(m.score(np.arange(15)), expected, atol=1e-5)
    assert m.propagation_ == "sparse"


def test_factored_and_materialised_paths_agree():
    data = gr.datasets.synthetic(n_users=200, n_items=150, n_communities=4, random_state=0).train
    kw = {"response": "chebyshev", "n_components": 16, "random_state": 0, "device": "cpu"}
    a = SpectralFilter(propagation="sparse", **kw).fit(data)
    b = SpectralFilter(propagation="factored", **kw).fit(data)
    c = SpectralFilter(memory_budget=1e-6, **kw).fit(data)  # "auto" under a tiny budget
    assert (a.propagation_, b.propagation_, c.propagation_) == ("sparse", "factored", "factored")
    assert b.item_filter_.nnz == 0
    users = np.arange(200)
    np.testing.assert_allclose(a.score(users), b.score(users), atol=1e-5)
    np.testing.assert_allclose(a.score(users), c.score(users), atol=1e-5)  # also blocks of one user


def test_score_new_users_equals_score_and_persistence(tmp_path, graph):
    x, r = graph
    m = SpectralFilter(response="bspm", n_components=3, ideal_weight=0.2, degree_exponent=0.0,
                       ideal_exponent=0.5, device="cpu").fit(x)
    import scipy.sparse as sp

    np.testing.assert_allclose(m.score_new_users(sp.csr_array(r[:4])), m.score(np.arange(4)), atol=1e-5)
    np.testing.assert_allclose(m.fold_in(sp.csr_array(r[:4])), m.user_embeddings_[:4], atol=1e-5)
    m.save(tmp_path / "sf")
    m2 = gr.load(tmp_path / "sf")
    assert isinstance(m2, SpectralFilter) and m2.get_params() == m.get_params()
    np.testing.assert_allclose(m2.score([0, 5]), m.score([0, 5]), rtol=1e-6)
    m3 = pickle.loads(pickle.dumps(m))
    np.testing.assert_allclose(m3.score([0, 5]), m.score([0, 5]), rtol=1e-6)


@pytest.mark.parametrize("cls", [SpectralFilter, gr.GraphFilter])
def test_new_users_are_read_the_same_way_by_both_filters(cls, graph):
    """Their shared cold-start door: fitted check, fold-in settings checked but unused, rows
    checked, only the interaction pattern counts."""
    import scipy.sparse as sp

    x, r = graph
    rows = sp.csr_array(r[:4] * np.arange(1, 13))  # weights 1..12 on the same pattern
    with pytest.raises(gr.NotFittedError):
        cls(n_components=3).fold_in(rows)
    with pytest.raises(gr.NotFittedError):
        cls(n_components=3).score_new_users(rows)
    m = cls(n_components=3, random_state=0).fit(x)
    np.testing.assert_allclose(m.fold_in(rows), m.fold_in(sp.csr_array(r[:4])), atol=1e-6)
    np.testing.assert_allclose(m.fold_in(rows, method="ridge", alpha=3.0), m.fold_in(rows), atol=0)
    np.testing.assert_allclose(m.score_new_users(rows), m.score(np.arange(4)), atol=1e-5)
    with pytest.raises(ValueError, match="method"):
        m.fold_in(rows, method="magic")
    with pytest.raises(ValueError, match="columns"):
        m.score_new_users(sp.csr_array(r[:4, :5]))
    with pytest.raises(ValueError, match=">= 0"):
        m.fold_in(sp.csr_array(-r[:4]))


@pytest.mark.parametrize(
    "params, name",
    [
        ({"response": "cheby"}, "response"),
        ({"order": 0}, "order"),
        ({"flatness": 0}, "flatness"),
        ({"coefficients": ()}, "coefficients"),
        ({"coefficients": "abc"}, "coefficients"),
        ({"blur_solver": "rk45"}, "blur_solver"),
        ({"sharpen_solver": "dopri5"}, "sharpen_solver"),
        ({"sharpen_steps": -1}, "sharpen_steps"),
        ({"blur_steps": 0}, "blur_steps"),
        ({"sharpen_time": -1.0}, "sharpen_time"),
        ({"merge": "middle"}, "merge"),
        ({"t_point_combination": "yes"}, "t_point_combination"),
        ({"hadamard_power": 0}, "hadamard_power"),
        ({"hadamard_power": 0.7, "propagation": "factored"}, "hadamard_power"),
        ({"hadamard_power": 0.7, "memory_budget": 1e-9}, "memory_budget"),
        ({"propagation": "dense"}, "propagation"),
        ({"memory_budget": 0}, "memory_budget"),
        ({"n_components": 12}, "n_components"),
        ({"n_components": -1}, "n_components"),
        ({"ideal_weight": -0.1}, "ideal_weight"),
        ({"degree_exponent": -1}, "degree_exponent"),
        ({"ideal_exponent": float("nan")}, "ideal_exponent"),
        ({"n_iter": -1}, "n_iter"),
    ],
)
def test_bad_parameters_are_named(graph, params, name):
    with pytest.raises((ValueError, TypeError), match=name):
        SpectralFilter(**params).fit(graph[0])


@pytest.mark.parametrize("cls", [gr.GraphFilter, SpectralFilter])
def test_defaults_work_on_a_20x30_table_and_repeat(cls, caplog):
    rng = np.random.default_rng(0)
    dense = rng.random((20, 30)) < 0.25
    dense[np.arange(20), np.arange(20)] = True
    u, i = np.nonzero(dense)
    x = gr.Interactions.from_arrays(u, i, n_users=20, n_items=30)
    with caplog.at_level(logging.INFO):
        a = cls().fit(x)
    assert a.n_components_ == 19
    assert any("19 singular vectors" in rec.getMessage() for rec in caplog.records)
    b = cls().fit(x)
    np.testing.assert_array_equal(a.score(np.arange(20)), b.score(np.arange(20)))


@pytest.mark.parametrize("cls", [gr.GraphFilter, SpectralFilter])
def test_defaults_on_the_bundled_sample(cls):
    ds = gr.datasets.load("sample")
    m = cls().fit(ds.train)
    assert m.n_components_ == min(256 if cls is gr.GraphFilter else 512, min(ds.train.n_users, ds.train.n_items) - 1)
    res = gr.evaluate(m, ds.test, k=(20,))
    assert res["recall@20"] > 0.05


@pytest.mark.parametrize("response", ["bspm", "chebyshev"])
@pytest.mark.parametrize("tail", ["linear", "quadratic"])
def test_low_rank_tail_is_exact_when_the_top_k_span_the_range(tail, response):
    """Rank-5 interactions (15 users, 5 distinct rows): the top 5 vectors hold every non-zero
    eigenvalue of P, so the low-rank tail equals the exact polynomial."""
    rng = np.random.default_rng(1)
    base = (rng.random((5, 12)) < 0.4).astype(np.float64)
    base[np.arange(5), np.arange(5)] = 1
    base[:, 11] = 1  # every item seen
    base[0, :] = 1
    r = base[np.arange(15) % 5]
    u, i = np.nonzero(r)
    x = gr.Interactions.from_arrays(u, i, n_users=15, n_items=12)
    assert np.linalg.matrix_rank(r) == 5
    kw = {"response": response, "n_components": 5, "ideal_weight": 0.2, "degree_exponent": 0.3, "n_iter": 20,
          "device": "cpu"}
    exact = SpectralFilter(**kw).fit(x)
    approx = SpectralFilter(tail=tail, **kw).fit(x)
    np.testing.assert_allclose(approx.score(np.arange(15)), exact.score(np.arange(15)), atol=1e-5)


@pytest.mark.parametrize("tail, degree", [("linear", 1), ("quadratic", 2)])
def test_low_rank_tail_formula(graph, tail, degree):
    x, r = graph
    m = SpectralFilter(tail=tail, n_components=4, ideal_weight=0.0, degree_exponent=0.4, n_iter=20,
                       device="cpu").fit(x)
    p = _dense_p(r)
    lam, v = _eig(p)
    coefs = m.tail_coefficients_
    assert len(coefs) == degree + 1
    f = m.response_function(lam)
    np.testing.assert_allclose(coefs[0], m.response_function([0.0])[0])
    approx = np.polynomial.polynomial.polyval(lam, coefs)
    approx[:4] = f[:4]  # exact on the top-4 eigenvectors, the line elsewhere
    expected = (r * r.sum(0) ** -0.4) @ (v * approx) @ v.T * r.sum(0) ** 0.4
    np.testing.assert_allclose(m.score(np.arange(15)), expected, atol=1e-5)


def test_method_names_resolve_to_the_family():
    from graphrec.models import get_model_class
    from graphrec.recipes import settings_for
    from graphrec.workflow import build_model

    for name in ("chebycf", "bspm", "turbocf", "SpectralFilter"):
        assert get_model_class(name) is SpectralFilter
    assert build_model("bspm", {}).response == "bspm"
    assert build_model("turbocf", {"hadamard_power": 1.0}).hadamard_power == 1.0
    published = settings_for("chebycf", "gowalla")
    assert (published["order"], published["flatness"], published["n_components"]) == (8, 1.5, 512)
    assert settings_for("bspm", "gowalla")["sharpen_time"] == 2.5
    assert settings_for("turbocf", "gowalla")["hadamard_power"] == 0.7
