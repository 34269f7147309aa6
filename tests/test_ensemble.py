"""graphrec.Ensemble: fusion rules, weights chosen on validation only, persistence, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import graphrec as gr
from graphrec.models.base import Recommender
from graphrec.models.ensemble import simplex_grid


class _Fixed(Recommender):
    """A recommender whose scores are a given table (for known-answer tests)."""

    def __init__(self, *, table=None):
        self.table = table

    def _fit(self, train, valid):
        self.table_ = np.asarray(self.table, dtype=np.float32)

    def _score(self, users, similarity=None):
        return torch.from_numpy(self.table_[users].copy())


@pytest.fixture(scope="module")
def data():
    return gr.datasets.synthetic(n_users=80, n_items=50, n_communities=4, random_state=1)


@pytest.fixture(scope="module")
def gf(data):
    return gr.GraphFilter(n_components=8, random_state=0).fit(data.train)


@pytest.fixture(scope="module")
def svd(data):
    return gr.PureSVD(embedding_dim=6, random_state=0).fit(data.train)


def test_simplex_grid():
    g = simplex_grid(3, 0.5)
    assert len(g) == 6 and np.allclose(g.sum(1), 1)
    assert g[0].tolist() == [1.0, 0.0, 0.0]
    assert len(simplex_grid(2, 0.1)) == 11
    with pytest.raises(ValueError, match="grid_step"):
        simplex_grid(2, 0.3)


def test_one_model_at_weight_one_equals_that_model(data, gf, svd):
    users = np.arange(data.train.n_users)
    raw = gr.Ensemble([gf, svd], weights=[1, 0], fusion="raw", prefit=True).fit(data.train)
    np.testing.assert_array_equal(raw.score(users), gf.score(users))
    idx_gf, sc_gf = gf.recommend(users, k=10)
    idx, sc = raw.recommend(users, k=10)
    np.testing.assert_array_equal(idx, idx_gf)
    np.testing.assert_array_equal(sc, sc_gf)
    # standardised scores: the same ranking, and scores that are the member's z-scores
    z = gr.Ensemble([gf], fusion="zscore", prefit=True).fit(data.train)
    np.testing.assert_array_equal(z.recommend(users, k=10)[0], idx_gf)
    s = gf.score(users).astype(np.float64)
    seen = data.train.to_csr().toarray() > 0
    unseen = np.where(seen, np.nan, s)
    expect = (s - np.nanmean(unseen, 1, keepdims=True)) / np.nanstd(unseen, 1, keepdims=True)
    np.testing.assert_allclose(z.score(users), expect, rtol=1e-4, atol=1e-4)
    # rank fusion keeps the member's order over its top rrf_depth
    r = gr.Ensemble([svd, gf], weights=[0, 1], fusion="rrf", prefit=True).fit(data.train)
    np.testing.assert_array_equal(r.recommend(users, k=10)[0], idx_gf)


def test_weights_follow_validation_not_test():
    # validation and test carry opposite signals: member A ranks each user's validation item
    # first, member B the test item. Weights fitted on valid must favour A; the same fit on
    # test (what a leak would do) favours B, so this test fails if test were used.
    n_users, n_items = 12, 30
    users = np.arange(n_users)
    train = gr.Interactions.from_arrays(np.repeat(users, 3), np.tile([0, 1, 2], n_users), n_users=n_users,
                                        n_items=n_items)
    valid_items, test_items = 5 + users % 10, 15 + users % 10
    valid = gr.Interactions.from_arrays(users, valid_items, n_users=n_users, n_items=n_items)
    test = gr.Interactions.from_arrays(users, test_items, n_users=n_users, n_items=n_items)
    rng = np.random.default_rng(0)
    a = rng.random((n_users, n_items)) * 0.1
    b = rng.random((n_users, n_items)) * 0.1
    a[users, valid_items] = 5.0
    b[users, test_items] = 3.0
    ma, mb = _Fixed(table=a).fit(train), _Fixed(table=b).fit(train)
    ens = gr.Ensemble([ma, mb], prefit=True, metric="recall@1").fit(train, valid)
    assert ens.weights_[0] > ens.weights_[1]
    assert ens.selection_["metric"] == "recall@1" and len(ens.selection_["scores"]) == 11
    assert gr.evaluate(ens, valid, k=1)["recall@1"] == 1.0
    leaked = gr.Ensemble([ma, mb], prefit=True, metric="recall@1").fit(train, test)
    assert leaked.weights_[0] < leaked.weights_[1]


def test_carve_selects_then_refits_on_all_train(data):
    ens = gr.Ensemble([gr.GraphFilter(n_components=8), gr.Popularity()], random_state=0, grid_step=0.25)
    ens.fit(data.train)
    assert ens.selection_ is not None and len(ens.selection_["candidates"]) == 5
    assert np.isclose(ens.weights_.sum(), 1.0)
    assert all(m.seen_.nnz == data.train.nnz for m in ens.models_)  # refitted on all of train
    assert ens.models_[0].random_state == 0  # seeded from the ensemble's random_state
    kept = gr.Ensemble([gr.GraphFilter(n_components=8), gr.Popularity()], random_state=0, grid_step=0.25,
                       refit=False).fit(data.train)
    assert all(m.seen_.nnz < data.train.nnz for m in kept.models_)
    np.testing.assert_array_equal(kept.weights_, ens.weights_)
    res = gr.evaluate(ens, data.test, k=10)
    assert res["recall@10"] > 2 * 10 / data.train.n_items


def test_members_by_name_and_blocked_scoring(data):
    ens = gr.Ensemble(["als", "popularity"], weights=[0.7, 0.3], batch_size=7, random_state=0).fit(data.train)
    users = np.arange(data.train.n_users)
    big = gr.Ensemble(["als", "popularity"], weights=[0.7, 0.3], batch_size=1000, random_state=0).fit(data.train)
    np.testing.assert_allclose(ens.score(users), big.score(users), rtol=1e-5, atol=1e-5)
    assert isinstance(ens.models_[0], gr.ALS)


def test_valid_overlapping_train_is_refused(data, gf, svd):
    with pytest.raises(ValueError, match="shares"):
        gr.Ensemble([gf, svd], prefit=True).fit(data.train, data.train)
    with pytest.raises(ValueError, match="prefit=True needs"):
        gr.Ensemble([gf, svd], prefit=True).fit(data.train)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"models": []}, "at least one"),
        ({"models": ["nosuch"]}, "unknown model"),
        ({"models": ["popularity"], "weights": [1, 2]}, "weights"),
        ({"models": ["popularity", "mf"], "weights": [-1, 2]}, "weights"),
        ({"models": ["popularity"], "fusion": "max"}, "fusion"),
        ({"models": ["popularity"], "metric": "recall"}, "metric"),
        ({"models": ["popularity"], "valid_size": 1.5}, "valid_size"),
        ({"models": ["popularity", "mf", "als", "puresvd"], "grid_step": 0.01}, "grid_step"),
    ],
)
def test_bad_parameters(data, params, match):
    with pytest.raises(ValueError, match=match):
        gr.Ensemble(**params).fit(data.train)


def test_member_of_wrong_type(data):
    with pytest.raises(TypeError, match="models\\[0\\]"):
        gr.Ensemble([object()]).fit(data.train)


def test_prefit_needs_fitted_members(data):
    with pytest.raises(ValueError, match="not fitted"):
        gr.Ensemble([gr.Popularity()], prefit=True).fit(data.train)


@pytest.mark.parametrize("fusion", ["zscore", "rrf", "raw"])
def test_save_load_round_trip(data, gf, svd, tmp_path, fusion):
    ens = gr.Ensemble([gf, svd], prefit=True, fusion=fusion).fit(data.train, data.test)
    ens.save(tmp_path / "ens")
    again = gr.load(tmp_path / "ens")
    assert isinstance(again, gr.Ensemble)
    assert [type(m) for m in again.models_] == [gr.GraphFilter, gr.PureSVD]
    np.testing.assert_array_equal(again.weights_, ens.weights_)
    assert again.selection_ == ens.selection_
    users = np.arange(data.train.n_users)
    np.testing.assert_array_equal(again.score(users), ens.score(users))
    np.testing.assert_array_equal(again.recommend(users, k=5)[0], ens.recommend(users, k=5)[0])


def test_saved_ensemble_can_be_replaced_but_not_silently(data, gf, svd, tmp_path):
    ens = gr.Ensemble([gf, svd], weights=[0.5, 0.5], prefit=True).fit(data.train)
    ens.save(tmp_path / "ens")
    with pytest.raises(gr.persistence.OutputExistsError):
        ens.save(tmp_path / "ens")
    ens.save(tmp_path / "ens", overwrite=True)
    assert sorted(p.name for p in (tmp_path / "ens").iterdir()) == ["arrays.npz", "member0", "member1", "meta.json"]


def test_saved_member_tampering_is_detected(data, gf, svd, tmp_path):
    gr.Ensemble([gf, svd], weights=[0.5, 0.5], prefit=True).fit(data.train).save(tmp_path / "ens")
    with open(tmp_path / "ens" / "member1" / "arrays.npz", "ab") as fh:
        fh.write(b"x")
    with pytest.raises(gr.persistence.ModelFileError, match="checksum"):
        gr.load(tmp_path / "ens")


def test_score_new_users_matches_training_rows(data, gf, svd):
    ens = gr.Ensemble([gf, svd], weights=[0.6, 0.4], prefit=True).fit(data.train)
    rows = data.train.to_csr()[:5]
    np.testing.assert_allclose(ens.score_new_users(rows), ens.score(np.arange(5)), rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="score_new_users"):
        ens.fold_in(rows)


def test_cli_recommend_and_evaluate_a_saved_ensemble(tmp_path, capsys):
    from graphrec.cli import main

    path = tmp_path / "ens"
    code = main(["--quiet", "train", "ensemble", "--dataset", "sample", "--out", str(path),
                 "--param", 'models=["graphfilter", "popularity"]', "--param", "grid_step=0.5"])
    assert code == 0, capsys.readouterr().err
    capsys.readouterr()
    assert main(["--quiet", "recommend", "--model", str(path), "--user", "1", "--k", "3", "--json"]) == 0
    recs = json.loads(capsys.readouterr().out)
    assert [r["rank"] for r in recs] == [1, 2, 3]
    assert main(["--quiet", "evaluate", "--model", str(path), "--k", "5", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["metrics"]["recall@5"] > 0


def test_best_recipe_runs_and_saves_a_loadable_ensemble(tmp_path):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from run import main as run_main

    assert run_main(["--quick", "--dataset", "synthetic", "--model", "best", "--out", str(tmp_path)]) == 0
    res = json.loads((tmp_path / "synthetic" / "best" / "results.json").read_text())
    assert set(res["standard_error"]) == {"recall@20", "ndcg@20"}
    assert np.isclose(sum(res["weights"]), 1.0)
    model = gr.load(tmp_path / "synthetic" / "best" / "model")
    assert isinstance(model, gr.Ensemble)
    assert np.isclose(gr.evaluate(model, gr.datasets.synthetic(
        n_users=400, n_items=300, n_communities=5, interactions_per_user=20, random_state=0).test,
        k=(20,))["recall@20"], res["metrics"]["recall@20"])


class _RecordsValid(_Fixed):
    """A _Fixed that remembers the validation interactions its fit received."""

    def _fit(self, train, valid):
        super()._fit(train, valid)
        self.valid_nnz_ = None if valid is None else int(valid.nnz)


def test_members_get_valid_for_early_stopping():
    # fit(train, valid): every member is fitted with valid, as it would be alone (the suite's
    # LightGCN early-stops on MovieLens's validation split), whether weights are chosen or given
    n_users, n_items = 6, 8
    users = np.arange(n_users)
    train = gr.Interactions.from_arrays(users, users % 3, n_users=n_users, n_items=n_items)
    valid = gr.Interactions.from_arrays(users, 4 + users % 3, n_users=n_users, n_items=n_items)
    table = np.random.default_rng(0).random((n_users, n_items))
    for weights in (None, [0.5, 0.5]):
        ens = gr.Ensemble([_RecordsValid(table=table), _RecordsValid(table=-table)], weights=weights).fit(train, valid)
        assert [m.valid_nnz_ for m in ens.models_] == [n_users, n_users]
    alone = gr.Ensemble([_RecordsValid(table=table)]).fit(train)
    assert alone.models_[0].valid_nnz_ is None
