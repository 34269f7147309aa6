"""Peers at their best (issue 20): the LightFM peer, --threads, and the report's default-recipe figures."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

import graphrec as gr

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))

import pin_threads
import report


@pytest.fixture
def data():
    return gr.datasets.synthetic(n_users=60, n_items=40, random_state=0)


@pytest.fixture
def restore_threads(monkeypatch):
    """Undo pin_threads: environment, torch's thread count and the threadpoolctl limit."""
    import torch

    for var in pin_threads.THREAD_ENV:  # registers each variable's undo
        if var in os.environ:
            monkeypatch.setenv(var, os.environ[var])
        else:
            monkeypatch.delenv(var, raising=False)
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)
    while pin_threads._LIMITS:
        pin_threads._LIMITS.pop().restore_original_limits()


# ---------------------------------------------------------------------------------- LightFM
def test_lightfm_fits_scores_like_lightfm_and_masks_seen(data):
    pytest.importorskip("lightfm")
    from lightfm import LightFM
    from peers import PEERS, peer_status

    assert peer_status("lightfm") == (True, "")
    m = PEERS["lightfm"](no_components=8, epochs=3, random_state=1).fit(data.train)
    users = np.arange(data.train.n_users)
    scores = m.score(users)
    assert scores.shape == (data.train.n_users, data.train.n_items) and scores.dtype == np.float32
    assert m.epochs_done_ == 3 and m.stopped_ == "epochs"

    # the same LightFM, trained the same way, predicts the same scores (biases included)
    ref = LightFM(no_components=8, loss="warp", learning_rate=0.05, random_state=1)
    coo = data.train.to_csr().tocoo()
    coo = type(coo)((np.ones(coo.nnz, np.float32), (coo.row.astype(np.int32), coo.col.astype(np.int32))),
                    shape=coo.shape)
    for _ in range(3):
        ref.fit_partial(coo, epochs=1, num_threads=1)
    uu, ii = np.meshgrid(users, np.arange(data.train.n_items), indexing="ij")
    expected = ref.predict(uu.ravel().astype(np.int32), ii.ravel().astype(np.int32)).reshape(uu.shape)
    np.testing.assert_allclose(scores, expected, rtol=1e-4, atol=1e-4)

    idx, _ = m.recommend(users, k=10, exclude_seen=True)
    seen = data.train.to_csr()
    for u in users:
        assert not set(idx[u][idx[u] >= 0].tolist()) & set(seen.indices[seen.indptr[u]:seen.indptr[u + 1]].tolist())
    assert gr.evaluate(m, data.test, k=(20,))["recall@20"] > 0.3  # planted communities


def test_lightfm_is_reproducible_and_checks_its_parameters(data):
    pytest.importorskip("lightfm")
    from peers import LightFMPeer

    a = LightFMPeer(no_components=8, epochs=2, random_state=3).fit(data.train)
    b = LightFMPeer(no_components=8, epochs=2, random_state=3).fit(data.train)
    c = LightFMPeer(no_components=8, epochs=2, random_state=4).fit(data.train)
    np.testing.assert_array_equal(a.item_embeddings_, b.item_embeddings_)
    assert not np.array_equal(a.item_embeddings_, c.item_embeddings_)
    with pytest.raises(ValueError, match="loss"):
        LightFMPeer(loss="hinge").fit(data.train)
    with pytest.raises(ValueError, match="no_components"):
        LightFMPeer(no_components=0).fit(data.train)


def test_lightfm_reports_every_epoch_and_stops_when_asked(data):
    pytest.importorskip("lightfm")
    from peers import LightFMPeer

    seen: list[int] = []

    def cb(model, record):
        assert model.user_embeddings_.shape[0] == data.train.n_users  # scored state after this epoch
        seen.append(record["epoch"])
        return record["epoch"] == 3

    m = LightFMPeer(no_components=8, epochs=10).fit(data.train, callbacks=[cb])
    assert seen == [1, 2, 3] and m.epochs_done_ == 3 and m.stopped_ == "callback"


def test_pyg_lightgcn_reports_every_epoch_and_stops_when_asked(data):
    pytest.importorskip("torch_geometric")
    from peers import PyGLightGCN

    seen: list[int] = []

    def spoil(model, record):
        assert model.user_embeddings_.shape == (data.train.n_users, 8)  # scored state after this epoch
        record["epoch"] = -1  # each callback gets its own copy of the record
        return False

    def stop_at_3(model, record):
        seen.append(record["epoch"])
        return record["epoch"] == 3

    m = PyGLightGCN(embedding_dim=8, n_layers=1, batch_size=256, epochs=10)
    m.fit(data.train, callbacks=[spoil, stop_at_3])
    assert seen == [1, 2, 3] and m.stopped_ == "callback" and [h["epoch"] for h in m.history_] == [1, 2, 3]
    assert m._callbacks == ()  # not kept past fit
    m.fit(data.train)
    assert m.stopped_ == "epochs" and len(m.history_) == 10 and seen == [1, 2, 3]


def test_tune_prunes_lightfm_through_its_epoch_callback(data):
    pytest.importorskip("lightfm")
    pytest.importorskip("optuna")
    import optuna
    from peers import LightFMPeer

    class Spy(optuna.pruners.BasePruner):
        """Prunes the first trial at its 2nd epoch, and remembers the epochs each trial reported."""

        def __init__(self):
            self.steps: list[tuple[int, int]] = []

        def prune(self, study, trial):
            self.steps.append((trial.number, trial.last_step))
            return trial.number == 0 and trial.last_step >= 2

    spy = Spy()
    res = gr.tune(LightFMPeer(no_components=8, epochs=4), data.train, space={"learning_rate": [0.05, 0.02]},
                  method="grid", pruner=spy, random_state=0)
    assert spy.steps == [(0, 1), (0, 2), (1, 1), (1, 2), (1, 3), (1, 4)]
    assert res.trials["state"].tolist() == ["pruned", "complete"] and res.best_trial == 1


def test_peer_search_spaces_name_their_parameters():
    from peers import PEERS

    from graphrec.tuning.spaces import check_space

    for cls in PEERS.values():
        check_space(cls.search_space(), cls().get_params())  # raises naming an unknown parameter
    space = PEERS["pyg-lightgcn"].search_space()
    assert max(space["epochs"]) <= 30 and min(space["batch_size"]) >= 4096  # sized to finish in 600 s on 1 core


# ---------------------------------------------------------------------------------- --threads
def test_threads_option_parses_and_rejects():
    assert pin_threads.parse_threads("2") == 2
    for bad in ("0", "-1", "two"):
        with pytest.raises(argparse.ArgumentTypeError, match="--threads"):
            pin_threads.parse_threads(bad)
    import tune_check
    import tune_peers

    for main in (tune_check.main, tune_peers.main):
        with pytest.raises(SystemExit):
            main(["--threads", "0"])


def test_pin_from_argv_sets_the_environment(monkeypatch):
    for var in pin_threads.THREAD_ENV:
        monkeypatch.delenv(var, raising=False)
    assert pin_threads.pin_from_argv(["--budget", "5"]) is None
    assert "OMP_NUM_THREADS" not in os.environ
    assert pin_threads.pin_from_argv(["--threads=3"]) == 3
    assert pin_threads.pin_from_argv(["--clock", "cpu", "--threads", "1"]) == 1
    assert {os.environ[v] for v in pin_threads.THREAD_ENV} == {"1"}


def test_tune_peers_defaults_only_pins_threads_and_records(tmp_path, restore_threads, monkeypatch):
    pytest.importorskip("lightfm")
    import torch
    import tune_peers

    from graphrec.data import datasets

    small = gr.datasets.synthetic(n_users=60, n_items=40, random_state=0)
    monkeypatch.setattr(datasets, "load", lambda name, *a, **k: small)
    out, record = tmp_path / "run.json", tmp_path / "peer_defaults.json"
    record.write_text(json.dumps({"rows": [{"dataset": "other", "peer": "lightfm", "recall@20": 0.5,
                                            "ndcg@20": 0.4}]}))
    rc = tune_peers.main(["--threads", "1", "--defaults-only", "--datasets", "tiny", "--peers", "lightfm",
                          "--json", str(out), "--record-defaults", str(record)])
    assert rc == 0
    run = json.loads(out.read_text())
    assert run["threads"] == 1 and run["pinned"]["torch_threads"] == torch.get_num_threads() == 1
    job = run["jobs"]["tiny:lightfm"]
    assert job["default_params"]["num_threads"] == 1 and "search" not in job
    rows = {(r["dataset"], r["peer"]): r for r in json.loads(record.read_text())["rows"]}
    assert set(rows) == {("other", "lightfm"), ("tiny", "lightfm")}  # merged, the other row kept
    assert rows[("tiny", "lightfm")]["recall@20"] == job["default_test"]["recall@20"]


# ---------------------------------------------------------------------------------- report
def _peer_row(dataset: str, model: str, recall: float, kind: str) -> dict:
    metrics = {f"{m}@{k}": recall for m in ("recall", "ndcg", "precision", "map") for k in (10, 20)}
    return {"dataset": dataset, "model": model, "kind": kind, "status": "ok", "metrics": metrics,
            "fit_seconds": 1.0, "eval_seconds": 1.0, "peak_memory_mb": 100.0, "settings": {}}


def test_report_shows_recorded_default_beside_the_tuned_peer(tmp_path):
    path = tmp_path / "peer_defaults.json"
    path.write_text(json.dumps({"rows": [
        {"dataset": "lastfm", "peer": "implicit-als", "params": {"factors": 64, "alpha": 1.0},
         "recall@20": 0.2354, "ndcg@20": 0.1861, "recall@20_se": 0.005, "measured": "2026-12-01",
         "source": "benchmarks/tune_peers.py"}]}))
    defaults = report.load_peer_defaults(path)
    assert report.load_peer_defaults(tmp_path / "absent.json") == {}
    suite = {"mode": "full", "command": "c", "started": "now", "n_jobs": 3, "finished": True, "n_ok": 3,
             "machine": {"cpu": "X", "cores": 2, "memory_gb": 8, "torch_threads": 1, "platform": "linux"},
             "versions": {"graphrec": "0"}, "elapsed_seconds": 1,
             "results": [_peer_row("lastfm", "lightgcn", 0.27, "graphrec"),
                         _peer_row("lastfm", "implicit-als", 0.2622, "peer"),
                         _peer_row("lastfm", "implicit-bpr", 0.2171, "peer")]}
    text = report.suite_markdown(suite, peer_defaults=defaults)
    lines = {line.split(" |")[0]: line for line in text.splitlines() if line.startswith("| ")}
    assert "default recipe R@20 / N@20" in lines["| model"]
    assert lines["| implicit-als (peer)"].rstrip(" |").endswith("0.2354 / 0.1861")
    assert lines["| lightgcn"].rstrip(" |").endswith("–") and lines["| implicit-bpr (peer)"].rstrip(" |").endswith("–")
    assert "0.2622" in lines["| implicit-als (peer)"]  # the tuned figure stays in the row
    assert "default recipe of implicit-als (peer): alpha=1.0, factors=64; test R@20 0.2354 ± 0.0050" in text
    # another dataset's recorded default does not add the column
    other = report.suite_markdown({**suite, "results": [_peer_row("gowalla", "implicit-als", 0.16, "peer")]},
                                  peer_defaults=defaults)
    assert "default recipe" not in other


# ---------------------------------------------------------------------------------- suite's PyG row
def test_suite_pyg_row_fits_the_recorded_setting_and_keeps_the_example_comparison(monkeypatch):
    """A pyg-lightgcn setting recorded in PEER_SETTINGS_BY_DATASET is what the suite's row fits;
    the ours-vs-PyG comparison beside it still runs the example recipe at our LightGCN's shape."""
    pytest.importorskip("torch_geometric")
    import jobs
    import peers
    import suite

    assert peers.pyg_tuned_settings("synthetic") is None  # nothing recorded: the example recipe
    timeout_example = suite._job_timeout("synthetic", "pyg-lightgcn", True)
    recorded = {"embedding_dim": 8, "n_layers": 1, "batch_size": 512, "lr": 0.02, "reg": 1e-3, "epochs": 2}
    monkeypatch.setitem(peers.PEER_SETTINGS_BY_DATASET, "pyg-lightgcn", {"synthetic": recorded})
    assert peers.pyg_tuned_settings("synthetic") == recorded
    assert peers.pyg_tuned_settings("lastfm") is None  # recorded for one dataset only
    assert suite._job_timeout("synthetic", "pyg-lightgcn", True) > timeout_example  # room for its own fit

    result, model = jobs.run_job("synthetic", "pyg-lightgcn", quick=True, seed=3)
    assert result["status"] == "ok" and result["kind"] == "peer"
    assert {k: result["settings"][k] for k in recorded} == recorded
    assert result["settings"]["random_state"] == 3 and "recorded for this dataset" in result["settings_source"]
    assert model.user_embeddings_.shape[1] == 8 and len(model.history_) >= 1
    comp = result["comparison"]
    assert comp["pyg_recipe"] == peers.PYG_EXAMPLE_RECIPE
    assert comp["shape"]["embedding_dim"] == comp["ours_settings"]["embedding_dim"] != 8


def test_pyg_row_params_fill_our_shape_and_cap_quick_runs():
    import jobs

    ours = {"embedding_dim": 64, "n_layers": 3, "batch_size": 2048}
    defaults = {"embedding_dim": 32, "n_layers": 2, "batch_size": 1024, "epochs": 60}
    full = jobs.pyg_row_params({"lr": 0.01, "n_layers": 2}, ours, defaults, quick=False, dataset="lastfm", seed=1)
    assert full == {"embedding_dim": 64, "n_layers": 2, "batch_size": 2048, "epochs": 60, "lr": 0.01,
                    "random_state": 1}  # by its epochs: no time budget added
    quick = jobs.pyg_row_params({"lr": 0.01, "time_budget": 30.0}, ours, defaults, quick=True, dataset="x", seed=0)
    assert quick["time_budget"] == jobs.pyg_budget_cap("x", True)
