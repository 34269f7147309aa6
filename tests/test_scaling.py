"""The memory ceiling (graphrec.memory) and the power-law generator used by benchmarks/scaling.py."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest

from graphrec.data.synthetic import power_law
from graphrec.exceptions import MemoryCeilingError
from graphrec.memory import MemoryGuard, peak_rss_mb, rss_mb


def test_rss_is_measured():
    assert 0 < rss_mb() <= peak_rss_mb() + 1


def test_check_refuses_a_planned_allocation_past_the_ceiling():
    guard = MemoryGuard(rss_mb() + 100, interval=0)
    with guard:
        guard.check(10 * 2**20, "a 10 MB block")  # fits
        with pytest.raises(MemoryCeilingError, match="score block needs 1,024 MB"):
            guard.check(2**30, "the score block")
    assert guard.tripped == "the score block"
    assert issubclass(MemoryCeilingError, MemoryError)


def test_watchdog_stops_a_run_that_grows_past_the_ceiling():
    guard = MemoryGuard(rss_mb() + 150, interval=0.01)
    with pytest.raises(MemoryCeilingError, match="memory ceiling"), guard:
        blocks = []
        for _ in range(20):  # up to 800 MB, 40 MB at a time
            blocks.append(np.ones(5 * 2**20))
            time.sleep(0.05)
    assert guard.tripped is not None and guard.peak_mb > 0


def test_hard_limit_turns_a_failed_allocation_into_the_named_error():
    # In a process of its own: RLIMIT_AS applies to the whole process.
    code = (
        "import numpy as np\n"
        "from graphrec.memory import MemoryGuard, rss_mb\n"
        "from graphrec.exceptions import MemoryCeilingError\n"
        "try:\n"
        "    with MemoryGuard(rss_mb() + 100, interval=0, hard=True):\n"
        "        np.ones(2**28)\n"  # 2 GB in one allocation
        "except MemoryCeilingError as e:\n"
        "    print('stopped', type(e.__cause__).__name__)\n"
        "x = np.ones(2**26)\n"  # the limit is lifted on exit
        "print('after', x.nbytes)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert "stopped" in out.stdout and "MemoryError" in out.stdout
    assert f"after {2**29}" in out.stdout


def test_guard_is_transparent_below_the_ceiling():
    with MemoryGuard(rss_mb() + 10_000, interval=0.01) as guard:
        x = np.ones(2**20).sum()
    assert x == 2**20 and guard.tripped is None
    with pytest.raises(ValueError, match="limit_mb"):
        MemoryGuard(0)
    with pytest.raises(ZeroDivisionError), MemoryGuard(rss_mb() + 10_000, interval=0):
        _ = 1 / 0  # other errors pass through unchanged


def test_power_law_graph_is_skewed_seeded_and_split_per_user():
    ds = power_law(60_000, 1_500, 3_000, random_state=3)
    train, test = ds.train.to_csr(), ds.test.to_csr()
    n = ds.train.nnz + ds.test.nnz
    assert 0.97 * 60_000 <= n <= 60_000  # repeats redrawn
    assert train.multiply(test).nnz == 0  # no pair in both
    deg = np.diff(train.indptr) + np.diff(test.indptr)
    assert (np.diff(test.indptr) >= 1).all() and (np.diff(train.indptr) >= 1).all()
    assert deg.max() > 8 * np.median(deg)  # heavy-tailed users
    item_deg = np.bincount(np.r_[train.indices, test.indices], minlength=3_000)
    assert item_deg.max() > 20 * np.median(item_deg)  # heavy-tailed items
    # communities: most interactions stay within the user's community (noise 0.3 + chance)
    comm, cat = ds.user_info["community"].to_numpy(), ds.item_info["category"].to_numpy()
    assert (comm[ds.train.user_idx] == cat[ds.train.item_idx]).mean() > 0.6
    again = power_law(60_000, 1_500, 3_000, random_state=3)
    np.testing.assert_array_equal(again.train.item_idx, ds.train.item_idx)
    other = power_law(60_000, 1_500, 3_000, random_state=4)
    assert not np.array_equal(other.train.item_idx[:100], ds.train.item_idx[:100])


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"n_interactions": 100, "n_users": 50, "n_items": 100}, "n_interactions"),
        ({"n_interactions": 0, "n_users": 5, "n_items": 10}, "n_interactions"),
        ({"n_interactions": 1000, "n_users": 5, "n_items": 10, "noise": 1.5}, "noise"),
        ({"n_interactions": 1000, "n_users": 5, "n_items": 10, "user_exponent": 0.0}, "user_exponent"),
        ({"n_interactions": 1000, "n_users": 5, "n_items": 10, "n_communities": 11}, "n_communities"),
        ({"n_interactions": 1000, "n_users": 5, "n_items": 10, "test_size": 1.0}, "test_size"),
        ({"n_interactions": 1000, "n_users": 5, "n_items": 10, "min_user_degree": 1}, "min_user_degree"),
    ],
)
def test_power_law_rejects_bad_parameters(kwargs, name):
    with pytest.raises(ValueError, match=name):
        power_law(**kwargs)


# ---------------------------------------------------------------------- benchmarks/scaling.py
def _scaling_module():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "scaling.py"
    spec = importlib.util.spec_from_file_location("scaling_bench", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_scaling_curves_recover_a_known_exponent_and_predict():
    sc = _scaling_module()
    rows = [
        {"model": "m", "dataset": f"d{s}", "scale": s, "interactions": n, "predicted": False, "error": None,
         "fit_s": 2e-6 * n**1.5, "fit_cpu_s": 1e-6 * n**1.5, "eval_s": 1e-5 * n, "eval_cpu_s": 1e-5 * n,
         "peak_mb": 300 + 1e-4 * n, "net_peak_mb": 1e-4 * n, "base_mb": 300}
        for s, n in ((1, 10_000), (4, 40_000), (16, 160_000))
    ]
    fits = sc.curves(rows)["m"]
    assert abs(fits["fit_s"]["exponent"] - 1.5) < 1e-9 and abs(fits["eval_s"]["exponent_top"] - 1.0) < 1e-9
    out = sc.add_predictions(rows, [64], "density", 10_000)
    pred = [r for r in out if r["predicted"]]
    assert len(pred) == 1 and pred[0]["interactions"] == 640_000
    assert abs(pred[0]["net_peak_mb"] - 64.0) < 0.1 and abs(pred[0]["peak_mb"] - 364.0) < 0.1
    text = sc.report(out)
    assert "| m | 1.50 (1.50) |" in text and "predicted" in text


def test_scaling_benchmark_runs_a_model_in_its_own_process(tmp_path, monkeypatch):
    import json

    sc = _scaling_module()
    monkeypatch.setenv("MPLBACKEND", "Agg")
    sc.main(["--scale", "1,2", "--models", "popularity", "--base-interactions", "20000", "--out", str(tmp_path),
             "--memory-limit-mb", "4000", "--predict", "4"])
    rows = json.loads((tmp_path / "scaling.json").read_text())["rows"]
    ran = [r for r in rows if not r["predicted"]]
    assert [r["scale"] for r in ran] == [1.0, 2.0]
    for r in ran:
        assert r["error"] is None and r["eval_s"] > 0 and r["peak_mb"] > r["base_mb"] > 0
        assert r["interactions"] > 15_000 * r["scale"]
    assert any(r["predicted"] and r["scale"] == 4.0 for r in rows)
    assert (tmp_path / "popularity.png").exists() and (tmp_path / "report.md").exists()
