"""graphrec.tune: grid, random and TPE search, pruning, per-user K-fold CV, and the CLI round trip."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

import graphrec as gr
from graphrec.cli import main
from graphrec.data.splits import user_kfold
from graphrec.models.popularity import Popularity
from graphrec.tuning import Categorical, Float, Int, TuningError, tune


@pytest.fixture(scope="module")
def data():
    ds = gr.datasets.synthetic(n_users=80, n_items=50, random_state=0)
    return ds.train, ds.test


def _pairs(x: gr.Interactions) -> set[tuple[int, int]]:
    return set(zip(x.user_idx.tolist(), x.item_idx.tolist()))


# ---------------------------------------------------------------------- grid and random search
def test_grid_visits_exactly_the_grid(data):
    train, _ = data
    space = {"n_components": [4, 8, 16], "alpha": [0.0, 0.5]}
    res = tune(gr.GraphFilter(), train, space=space, method="grid")
    visited = list(zip(res.trials["param_n_components"], res.trials["param_alpha"]))
    assert sorted(visited) == sorted(itertools.product([4, 8, 16], [0.0, 0.5]))
    assert len(set(visited)) == len(visited) == 6
    assert (res.trials["state"] == "complete").all()
    best_row = res.trials.loc[res.trials["value"].idxmax()]
    assert res.best_params == {"n_components": best_row["param_n_components"], "alpha": best_row["param_alpha"]}
    assert res.best_score == pytest.approx(best_row["value"])


def test_grid_of_ranges_uses_n_grid_points():
    assert Float(0.0, 1.0).grid(3) == [0.0, 0.5, 1.0]
    assert Float(1e-3, 1e-1, log=True).grid(3) == [0.001, 0.01, 0.1]
    assert Int(2, 10).grid(5) == [2, 4, 6, 8, 10]
    assert Int(64, 1024, log=True).grid(5) == [64, 128, 256, 512, 1024]


def test_random_search_respects_bounds_and_seed(data):
    train, _ = data
    space = {"alpha": Float(0.05, 0.4, log=True), "n_components": Int(3, 12)}

    def run(seed):
        return tune(gr.GraphFilter(), train, space=space, method="random", n_trials=8, random_state=seed,
                    prune=False).trials

    a, b, c = run(1), run(1), run(2)
    assert len(a) == 8
    assert a["param_alpha"].between(0.05, 0.4).all()
    assert a["param_n_components"].between(3, 12).all()
    assert all(float(v).is_integer() for v in a["param_n_components"])
    pd.testing.assert_frame_equal(a[["param_alpha", "param_n_components"]], b[["param_alpha", "param_n_components"]])
    assert not np.allclose(a["param_alpha"], c["param_alpha"])


def test_random_search_over_a_finite_grid_never_repeats(data):
    train, _ = data
    res = tune(gr.GraphFilter(), train, space={"n_components": [4, 8, 16]}, method="random", n_trials=10)
    assert sorted(res.trials["param_n_components"]) == [4, 8, 16]


def test_groups_merge_their_parameters(data):
    train, _ = data
    groups = Categorical([{"n_components": 4, "alpha": 0.0}, {"n_components": 8, "alpha": 0.3}],
                         labels=["small", "large"])
    res = tune(gr.GraphFilter(), train, space={"filter": groups}, method="grid")
    assert set(res.trials["param_filter"]) == {"small", "large"}
    assert res.best_params in ({"n_components": 4, "alpha": 0.0}, {"n_components": 8, "alpha": 0.3})


def test_tpe_is_reproducible_and_refits(data):
    pytest.importorskip("optuna")
    train, _ = data
    space = {"alpha": Float(0.0, 1.0), "n_components": Int(2, 16)}
    a = tune(gr.GraphFilter(), train, space=space, method="tpe", n_trials=6, random_state=0, refit=True)
    b = tune(gr.GraphFilter(), train, space=space, method="tpe", n_trials=6, random_state=0)
    assert a.trials["param_alpha"].tolist() == b.trials["param_alpha"].tolist()
    assert a.best_estimator is not None and a.best_estimator.n_components == a.best_params["n_components"]
    assert a.best_estimator.seen_.nnz == train.nnz  # refitted on train + the carved validation rows
    assert b.best_estimator is None


def test_default_space_of_every_registered_model_names_its_parameters():
    for name, cls in gr.MODELS.items():
        space = cls.search_space()
        params = cls().get_params()
        from graphrec.tuning.spaces import check_space

        check_space(space, params)  # raises on a name the model does not take
        assert space, name


def test_bad_arguments_raise_naming_them(data):
    train, test = data
    with pytest.raises(ValueError, match="metric"):
        tune(gr.GraphFilter(), train, space={"alpha": [0.1]}, method="grid", metric="recall")
    with pytest.raises(ValueError, match="budget= .* or n_trials="):
        tune(gr.GraphFilter(), train, space={"alpha": [0.1]}, method="random")
    with pytest.raises(ValueError, match="not_a_param"):
        tune(gr.GraphFilter(), train, space={"not_a_param": [1]}, method="grid")
    with pytest.raises(ValueError, match="valid or cv"):
        tune(gr.GraphFilter(), train, test, cv=3, space={"alpha": [0.1]}, method="grid")
    with pytest.raises(TypeError, match="lr"):
        tune(gr.GraphFilter(), train, space={"lr": 0.1}, method="grid")
    with pytest.raises(TuningError, match="no trial completed"):
        tune(gr.GraphFilter(), train, space={"n_components": [-1]}, method="grid")


@pytest.mark.parametrize("clock", ["wall", "cpu"])
def test_budget_stops_the_search(data, clock):
    train, _ = data
    res = tune(gr.GraphFilter(n_components=8), train, space={"alpha": Float(0.0, 1.0)}, method="random", budget=1.0,
               clock=clock, prune=False)
    assert len(res.trials) >= 1 and res.clock == clock
    spent = res.cpu_seconds if clock == "cpu" else res.elapsed
    assert spent < 1.0 + 5 * res.trials["seconds"].max()


# ---------------------------------------------------------------------- pruning
class _Scripted(Popularity):
    """Popularity, plus a fake per-epoch validation curve ``0.5 + slope * epoch`` (for the pruner)."""

    def __init__(self, *, use_weights: bool = False, slope: float = 0.0, epochs: int = 20) -> None:
        super().__init__(use_weights=use_weights)
        self.slope = slope
        self.epochs = epochs

    def fit(self, train, valid=None, *, callbacks=()):
        super().fit(train, valid)
        self.history_ = []
        for epoch in range(1, self.epochs + 1):
            record = {"epoch": epoch, "metrics": {"recall@20": 0.5 + self.slope * epoch}}
            self.history_.append(record)
            if any(cb(self, record) for cb in callbacks):
                break
        return self


def test_pruning_stops_a_diverging_trial_early(data):
    optuna = pytest.importorskip("optuna")
    train, _ = data
    pruner = optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=3)
    res = tune(_Scripted(), train, space={"slope": [0.01, 0.005, -0.05]}, method="grid", pruner=pruner)
    t = res.trials.set_index("param_slope")
    assert t.loc[0.01, "state"] == t.loc[0.005, "state"] == "complete"
    assert t.loc[-0.05, "state"] == "pruned"
    assert len(t.loc[-0.05, "fold_values"].split()) == 1  # the last value it reported
    assert res.best_params == {"slope": 0.01}


def test_pruning_goes_through_the_training_engine_callback(data):
    optuna = pytest.importorskip("optuna")
    train, _ = data
    pruner = optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=2)
    model = gr.MF(embedding_dim=8, epochs=15, batch_size=256, random_state=0)
    # a learning rate of 1e-6 leaves the random initial embeddings where they are
    res = tune(model, train, space={"lr": [0.05, 1e-6]}, method="grid", pruner=pruner)
    t = res.trials.set_index("param_lr")
    assert t.loc[0.05, "state"] == "complete" and t.loc[0.05, "epochs"] == 15
    assert t.loc[1e-6, "state"] == "pruned"


# ---------------------------------------------------------------------- cross-validation
def test_user_kfold_partitions_each_users_rows(data):
    train, _ = data
    folds = user_kfold(train, 4, random_state=0)
    assert len(folds) == 4
    all_rows = _pairs(train)
    tests = [_pairs(f.test) for f in folds]
    assert sum(len(t) for t in tests) == train.nnz and set().union(*tests) == all_rows
    for f, t in zip(folds, tests):
        assert not (_pairs(f.train) & t)
        assert _pairs(f.train) | t == all_rows
    sizes = np.stack([f.test.user_degrees for f in folds])
    assert (sizes.max(0) - sizes.min(0) <= 1).all()
    again = user_kfold(train, 4, random_state=0)
    assert all(_pairs(a.test) == _pairs(b.test) for a, b in zip(folds, again))
    with pytest.raises(ValueError, match="n_splits"):
        user_kfold(train, 1)


class _Spy(Popularity):
    seen: ClassVar[list] = []

    def fit(self, train, valid=None):
        _Spy.seen.append((_pairs(train), set() if valid is None else _pairs(valid)))
        return super().fit(train, valid)


def test_cv_search_never_sees_the_test_split(data):
    train, test = data
    _Spy.seen = []
    res = tune(_Spy(), train, space={"use_weights": [False, True]}, method="grid", cv=3, refit=True)
    assert len(res.trials) == 2 and res.trials["fold_values"].str.split().map(len).tolist() == [3, 3]
    train_rows, test_rows = _pairs(train), _pairs(test)
    assert len(_Spy.seen) == 2 * 3 + 1  # every fold of every trial, and the refit
    for fit_rows, valid_rows in _Spy.seen[:-1]:
        assert not fit_rows & valid_rows
        assert fit_rows | valid_rows == train_rows
        assert not (fit_rows | valid_rows) & test_rows
    assert _Spy.seen[-1][0] == train_rows


# ---------------------------------------------------------------------- command line
def test_cli_tune_round_trips_into_train_config(tmp_path, capsys):
    out = tmp_path / "search"
    argv = ["--quiet", "tune", "graphfilter", "--dataset", "sample", "--method", "grid",
            "--space", "n_components=[8, 16]", "--space", "alpha=[0.2, 0.5]", "--out", str(out)]
    assert main(argv) == 0
    assert sorted(p.name for p in out.iterdir()) == ["best.toml", "search.png", "trials.csv"]
    trials = pd.read_csv(out / "trials.csv")
    assert len(trials) == 4
    best = trials.loc[trials["value"].idxmax()]
    model_dir = tmp_path / "model"
    assert main(["--quiet", "train", "--config", str(out / "best.toml"), "--out", str(model_dir)]) == 0
    model = gr.load(model_dir)
    assert type(model).__name__ == "GraphFilter"
    assert model.n_components == best["param_n_components"] and model.alpha == best["param_alpha"]
    # the output folder is never overwritten
    capsys.readouterr()
    assert main(argv) == 2
    assert "not an empty folder" in capsys.readouterr().err
    assert main(["--quiet", "tune", "graphfilter", "--dataset", "sample", "--out", str(tmp_path / "x")]) == 2
    assert not Path(tmp_path / "x").exists()
