"""benchmarks/hybrid.py: its evaluator's known answer and a quick run of one part."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "hybrid.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("hybrid_bench", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_evaluate_scores_known_answer(bench):
    n_items = 30
    scores = np.tile(np.arange(n_items, 0, -1, dtype=np.float32), (2, 1))  # item 0 ranks first
    rel = sp.csr_array(np.eye(2, n_items))  # user 0 wants item 0, user 1 item 1
    seen = sp.csr_array(([1.0], ([1], [0])), shape=(2, n_items))  # user 1 saw item 0
    out = bench.evaluate_scores(scores, rel, seen=seen)
    assert out["recall@20"] == 1.0 and out["ndcg@20"] == 1.0 and out["n_users"] == 2
    out = bench.evaluate_scores(scores, rel, candidates=np.arange(2, n_items))
    assert out["recall@20"] == 0.0 and out["recall@20_se"] == 0.0
    out = bench.evaluate_scores(scores, rel)  # user 1's item ranks second
    assert out["recall@20"] == 1.0 and out["ndcg@20"] == pytest.approx((1 + 1 / np.log2(3)) / 2)


def test_quick_lastfm_part_writes_rows(bench, tmp_path, data_root):
    bench.main(["--quick", "--parts", "lastfm", "--out", str(tmp_path), "--root", str(data_root)])
    rows = json.loads((tmp_path / "hybrid.json").read_text())
    got = {(r["setting"], r["model"]) for r in rows}
    assert {("sparse-users", "hybrid"), ("sparse-users", "lightgcn"), ("friends-only", "hybrid"),
            ("friends-only", "popularity")} <= got
    assert all({"recall@20", "ndcg@20", "recall@20_se", "dataset"} <= set(r) for r in rows)
