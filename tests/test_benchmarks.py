"""The benchmark harness: a --quick smoke run of the suite, the single-run CLI, the report."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import graphrec as gr

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))

import report
from run import main
from suite import skip_reason


def test_quick_suite_smoke(tmp_path):
    """Subprocess per job, unknown names skipped with a reason, JSON + Markdown + PNG + RESULTS.md written."""
    md = tmp_path / "RESULTS.md"
    md.write_text(f"# header kept\n\n{report.BEGIN}\nold\n{report.END}\n\n## Other measured figures\nkept\n")
    models = "popularity,pyg-lightgcn,no-such-model"  # pyg-lightgcn also fits our LightGCN
    rc = main(["--quick", "--dataset", "synthetic", "--model", models, "--out", str(tmp_path / "out"),
               "--results-md", str(md)])
    assert rc == 0
    suite = json.loads((tmp_path / "out" / "suite.json").read_text())
    assert suite["finished"] and suite["mode"] == "quick"
    by_model = {r["model"]: r for r in suite["results"]}
    assert list(by_model) == models.split(",")
    assert by_model["no-such-model"]["status"] == "skipped"
    assert "no-such-model" in by_model["no-such-model"]["reason"]
    pop = by_model["popularity"]
    assert pop["status"] == "ok"
    for key in ("recall@10", "ndcg@20", "precision@20", "map@20", "coverage@20", "category_diversity@20",
                "novelty@20"):
        assert 0 <= pop["metrics"][key] <= (1 if key != "novelty@20" else 100)
    assert pop["peak_memory_mb"] > 0 and pop["fit_seconds"] >= 0 and pop["eval_seconds"] >= 0
    for r in suite["results"]:  # every job either ran or says why not
        assert r["status"] == "ok" or r["reason"], r
    if by_model["pyg-lightgcn"]["status"] == "ok":
        comp = by_model["pyg-lightgcn"]["comparison"]
        assert comp["shape"]["embedding_dim"] == comp["ours_settings"]["embedding_dim"]
        assert comp["budget_seconds"] > 0 and comp["pyg"]["step_seconds"] > 0
    saved = gr.load(tmp_path / "out" / "synthetic" / "popularity" / "model")
    assert isinstance(saved, gr.Popularity)
    text = md.read_text()
    assert text.startswith("# header kept") and text.rstrip().endswith("kept")
    assert "old" not in text and "| popularity |" in text
    assert (tmp_path / "out" / "plots" / "accuracy_vs_fit_time.png").stat().st_size > 0
    assert (tmp_path / "out" / "suite.md").is_file()


def test_single_run_cli(tmp_path, capsys):
    rc = main(["--dataset", "synthetic", "--model", "popularity", "--quick", "--out", str(tmp_path)])
    assert rc == 0
    result = json.loads((tmp_path / "synthetic" / "popularity" / "results.json").read_text())
    assert result["status"] == "ok" and result["mode"] == "quick"
    assert result["metrics"]["n_users"] > 0
    assert "| synthetic | popularity |" in capsys.readouterr().out
    assert gr.load(tmp_path / "synthetic" / "popularity" / "model").n_items_ == result["data"]["n_items"]


def test_single_run_curve_and_pyg_step_comparison(tmp_path, capsys):
    pytest.importorskip("torch_geometric")
    rc = main(["--dataset", "synthetic", "--model", "lightgcn", "--quick", "--out", str(tmp_path),
               "--curve-every", "1", "--compare-pyg", "2"])
    assert rc == 0
    result = json.loads((tmp_path / "synthetic" / "lightgcn" / "results.json").read_text())
    curve = result["curve"]
    assert [p["epoch"] for p in curve] == list(range(1, result["epochs"] + 1))
    assert curve[-1]["recall@20"] == pytest.approx(result["metrics"]["recall@20"], abs=1e-4)
    comp = result["pyg_step_comparison"]
    assert comp["batch"] == result["settings"]["batch_size"] and comp["steps"] == 2
    assert comp["ratio_vs_pyg_sparse"] == pytest.approx(comp["pyg_sparse_step_s"] / comp["graphrec_step_s"])
    out = capsys.readouterr().out
    assert "| PyG LightGCN (edge_index) |" in out and "| epoch | minutes | Recall@20 | NDCG@20 |" in out


def test_curve_and_compare_pyg_refuse_models_they_do_not_apply_to(tmp_path, capsys):
    assert main(["--dataset", "synthetic", "--model", "popularity", "--quick", "--out", str(tmp_path),
                 "--compare-pyg"]) == 1
    assert "--compare-pyg" in capsys.readouterr().err
    assert main(["--dataset", "synthetic", "--model", "popularity", "--quick", "--out", str(tmp_path),
                 "--curve-every", "1"]) == 1
    assert "not trained by epochs" in capsys.readouterr().err


def test_single_run_peer_in_process(tmp_path):
    from peers import peer_status

    ok, why = peer_status("implicit-als")
    if not ok:
        pytest.skip(why)
    result = main(["--dataset", "synthetic", "--model", "implicit-als", "--quick", "--out", str(tmp_path)])
    assert result == 0
    saved = json.loads((tmp_path / "synthetic" / "implicit-als" / "results.json").read_text())
    assert saved["kind"] == "peer" and saved["versions"]["implicit"] != "not installed"
    assert saved["metrics"]["recall@20"] > 0.2  # planted communities: ALS finds them
    assert not (tmp_path / "synthetic" / "implicit-als" / "model").exists()  # peers are not saved


def test_single_run_unknown_model_is_an_error(tmp_path, capsys):
    assert main(["--dataset", "synthetic", "--model", "no-such-model", "--quick", "--out", str(tmp_path)]) == 1
    assert "no-such-model" in capsys.readouterr().err


def test_skip_reasons(tmp_path):
    cache: dict = {}
    assert skip_reason("synthetic", "popularity", None, cache) is None
    assert "not found" in skip_reason("gowalla", "popularity", str(tmp_path), {})
    assert "not in graphrec.models.MODELS" in skip_reason("synthetic", "no-such-model", None, cache)


def test_update_results_md_keeps_text_outside_the_markers(tmp_path):
    path = tmp_path / "RESULTS.md"
    report.update_results_md(path, "first")
    assert "## Other measured figures" in path.read_text()
    path.write_text(path.read_text().replace("(Filled in by hand", "lead's figure 1.23 (Filled in by hand"))
    report.update_results_md(path, "second")
    text = path.read_text()
    assert "second" in text and "first" not in text and "lead's figure 1.23" in text
    assert text.count(report.BEGIN) == text.count(report.END) == 1


def _fake_result(dataset: str, model: str, recall: float, kind: str = "graphrec") -> dict:
    metrics = {f"{m}@{k}": recall / (1 + (m != "recall")) for m in ("recall", "ndcg", "precision", "map")
               for k in (10, 20)}
    metrics.update({"coverage@20": 0.5, "diversity@20": 0.7, "novelty@20": 9.0})
    return {"dataset": dataset, "model": model, "kind": kind, "status": "ok", "metrics": metrics,
            "fit_seconds": 12.0, "eval_seconds": 3.0, "peak_memory_mb": 900.0, "epochs": 5, "settings": {}}


def test_markdown_has_published_figures_and_comparison(tmp_path):
    pyg = _fake_result("gowalla", "pyg-lightgcn", 0.05, kind="peer")
    pyg["comparison"] = {
        "shape": {"embedding_dim": 64, "n_layers": 3, "batch_size": 8192, "epochs": 100},
        "budget_seconds": 180.0, "pyg": {"step_seconds": 4.0, "epochs": 0.4, "metrics": {"recall@20": 0.05}},
        "ours_equal_time": {"step_seconds": 0.2, "epochs": 9, "metrics": {"recall@20": 0.15, "ndcg@20": 0.12}},
        "speed_ratio": 20.0, "equal_epochs": {"skipped": "PyG completed 0.40 of one epoch in 180 s"},
    }
    suite = {"mode": "full", "command": "python benchmarks/run.py --full", "started": "now", "n_jobs": 3,
             "machine": {"cpu": "X", "cores": 2, "memory_gb": 8, "torch_threads": 2, "platform": "linux"},
             "versions": {"graphrec": "0.1.0"}, "finished": True, "n_ok": 2, "elapsed_seconds": 60,
             "results": [_fake_result("gowalla", "lightgcn", 0.17), pyg,
                         {"dataset": "gowalla", "model": "deepwalk", "status": "skipped", "reason": "not yet"}]}
    text = report.suite_markdown(suite)
    assert "0.1830" in text and "SIGIR 2020" in text and "CIKM 2021" in text and "SIGIR 2023" in text
    assert "| graphrec lightgcn (this run) | 0.1700 |" in text
    assert "20.0×" in text and "PyG completed 0.40" in text
    assert "**deepwalk**: skipped: not yet" in text


@pytest.mark.parametrize("name", ["implicit-als", "pyg-lightgcn"])
def test_peer_status_says_why(name):
    from peers import peer_status

    ok, why = peer_status(name)
    assert ok or "pip install" in why


def test_within_user_auc_matches_pairwise_count():
    import numpy as np
    from gowalla_split_check import within_user_auc

    ds = gr.datasets.synthetic(n_users=40, n_items=60, interactions_per_user=12, random_state=3)
    score = np.random.default_rng(0).standard_normal(ds.train.n_items)
    held, rest = ds.test.to_csr(), ds.train.to_csr()
    per_user = []
    for u in range(held.shape[0]):
        a = score[held.indices[held.indptr[u]:held.indptr[u + 1]]]
        b = score[rest.indices[rest.indptr[u]:rest.indptr[u + 1]]]
        if len(a) and len(b):
            per_user.append((a[:, None] > b[None, :]).mean())
    assert within_user_auc(ds.test, ds.train, score) == pytest.approx(np.mean(per_user))
    assert within_user_auc(ds.test, ds.train, -score) == pytest.approx(1 - np.mean(per_user))


@pytest.mark.parametrize("effect", ["random", "newness"])
def test_dispersed_carve_sizes_and_dispersion(effect):
    import numpy as np
    from gowalla_split_check import _dispersion, dispersed_carve

    train = gr.datasets.synthetic(n_users=600, n_items=200, interactions_per_user=30, random_state=1).train
    split, beta, disp = dispersed_carve(train, 0.2, 1.8, seed=0, effect=effect)
    assert split.train.nnz + split.test.nnz == train.nnz
    held = set(zip(split.test.user_idx.tolist(), split.test.item_idx.tolist()))
    assert not held & set(zip(split.train.user_idx.tolist(), split.train.item_idx.tolist()))
    expected = np.floor(0.2 * train.user_degrees + 0.5)  # rounded half up, as random_holdout
    np.testing.assert_array_equal(split.test.user_degrees, expected)
    assert beta > 0
    assert disp["residual_variance"] == pytest.approx(1.8, abs=0.05)
    again = _dispersion(split.test.item_degrees.astype(float), train.item_degrees.astype(float))
    assert again["residual_variance"] == pytest.approx(disp["residual_variance"])


def test_user_uncertainty_brackets_the_figure():
    import numpy as np
    from lightgcn_gowalla import user_uncertainty

    ds = gr.datasets.synthetic(n_users=300, n_items=80, interactions_per_user=10, random_state=0)
    model = gr.Popularity().fit(ds.train)
    out = user_uncertainty(model, ds.test, n_boot=200)
    per_user = gr.evaluate(model, ds.test, k=(20,), per_user=True)["per_user"]
    for name in ("recall@20", "ndcg@20"):
        x = per_user[name].to_numpy()
        assert out[name]["mean"] == pytest.approx(x.mean())
        assert out[name]["se"] == pytest.approx(x.std(ddof=1) / np.sqrt(len(x)))
        low, high = out[name]["ci95"]
        assert low < x.mean() < high
        assert high - low == pytest.approx(4 * out[name]["se"], rel=0.3)


def test_a_run_without_finished_jobs_keeps_results_md(tmp_path):
    path = tmp_path / "RESULTS.md"
    report.update_results_md(path, "recorded table")
    before = path.read_text()
    skipped = {"dataset": "gowalla", "model": "lightgcn", "status": "skipped", "reason": "dataset not found"}
    (tmp_path / "out").mkdir()
    suite = {"mode": "full", "command": "x", "started": "now", "n_jobs": 1, "finished": True, "n_ok": 0,
             "machine": {"cpu": "X", "cores": 2, "memory_gb": 8, "torch_threads": 2, "platform": "linux"},
             "versions": {"graphrec": "0.1.0"}, "elapsed_seconds": 1, "results": [skipped]}
    report.write_reports(suite, tmp_path / "out", results_md=path, plots_dir=tmp_path / "plots")
    assert path.read_text() == before
    assert "dataset not found" in (tmp_path / "out" / "suite.md").read_text()
    suite["results"].append(_fake_result("gowalla", "popularity", 0.04))
    report.write_reports(suite, tmp_path / "out", results_md=path, plots_dir=tmp_path / "plots")
    assert "recorded table" not in path.read_text()


def test_dispersed_carve_rejects_an_unknown_effect():
    from gowalla_split_check import dispersed_carve

    train = gr.datasets.synthetic(n_users=50, n_items=40, random_state=0).train
    with pytest.raises(ValueError, match="effect"):
        dispersed_carve(train, 0.2, 1.5, effect="time")


def test_independent_evaluator_reads_lightgcn_files_and_agrees_with_graphrec(tmp_path):
    """benchmarks/independent_eval.py: its own loader and metrics give graphrec.evaluate's figures."""
    import numpy as np
    from independent_eval import evaluate as plain_evaluate
    from independent_eval import load_gowalla

    ds = gr.datasets.synthetic(n_users=120, n_items=90, interactions_per_user=15, random_state=2)
    for name, part in (("train.txt", ds.train), ("test.txt", ds.test)):
        csr = part.to_csr()
        lines = [" ".join(map(str, [u, *csr.indices[csr.indptr[u]:csr.indptr[u + 1]]]))
                 for u in range(csr.shape[0]) if csr.indptr[u + 1] > csr.indptr[u]]
        (tmp_path / name).write_text("\n".join(lines) + "\n")
    train, test = load_gowalla(tmp_path)
    assert (train != ds.train.to_csr()[: train.shape[0], : train.shape[1]].astype(bool)).nnz == 0
    model = gr.MF(embedding_dim=8, epochs=2, random_state=0).fit(ds.train)
    scores = model.score(np.arange(train.shape[0]))[:, : train.shape[1]]
    ours = plain_evaluate(lambda b: scores[b], train, test)
    ref = gr.evaluate(model, ds.test, k=(20,))
    assert ours["n_users"] == int((ds.test.user_degrees > 0).sum())
    assert ours["recall@20"] == pytest.approx(ref["recall@20"], abs=1e-6)
    assert ours["ndcg@20"] == pytest.approx(ref["ndcg@20"], abs=1e-6)


def test_independent_evaluator_known_answer():
    """Two users, four items, hand-computed Recall/NDCG@2 with the train item masked."""
    import numpy as np
    import scipy.sparse as sp
    from independent_eval import evaluate as plain_evaluate

    train = sp.csr_array(np.array([[1, 0, 0, 0], [0, 0, 0, 0]], dtype=np.float32))
    test = sp.csr_array(np.array([[0, 0, 1, 1], [0, 1, 0, 0]], dtype=np.float32))
    scores = np.array([[9.0, 1.0, 3.0, 2.0], [4.0, 3.0, 2.0, 1.0]], dtype=np.float32)
    res = plain_evaluate(lambda b: scores[b], train, test, k=2)
    # user 0: item 0 masked, top-2 = [2, 3], both held out: recall 1, ndcg 1
    # user 1: top-2 = [0, 1], hit at rank 2: recall 1, ndcg (1/log2(3)) / 1
    assert res["n_users"] == 2
    assert res["recall@2"] == pytest.approx(1.0)
    assert res["ndcg@2"] == pytest.approx((1.0 + 1 / np.log2(3)) / 2)
