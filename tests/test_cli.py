"""The graphrec command line: commands in-process (fast), bad input, one subprocess run."""

from __future__ import annotations

import json
import os
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from graphrec.cli import main
from graphrec.cli.parser import param_value


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["--quiet", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def error_line(err: str) -> str:
    """The one error line (argparse puts its usage lines before it)."""
    lines = [ln for ln in err.strip().splitlines() if ln.startswith("graphrec")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "pop"
    assert main(["--quiet", "train", "popularity", "--dataset", "sample", "--out", str(path)]) == 0
    return path


@pytest.fixture
def ratings_csv(tmp_path) -> Path:
    rows = [(u, i, r, t) for u in "abcdef" for t, (i, r) in enumerate([("x", 5), ("y", 4), ("z", 2), ("w", 5)])]
    path = tmp_path / "ratings.csv"
    pd.DataFrame(rows, columns=["who", "what", "stars", "when"]).assign(
        name=lambda d: "Title " + d["what"]).to_csv(path, index=False)
    return path


# ---------------------------------------------------------------------- commands
def test_datasets_lists_sample(capsys):
    code, out, _ = run(capsys, "datasets")
    assert code == 0 and "sample" in out
    code, out, _ = run(capsys, "datasets", "--json")
    rows = {r["name"]: r for r in json.loads(out)}
    assert rows["sample"]["found"] is True and rows["sample"]["path"]


def test_models_lists_registry(capsys):
    code, out, _ = run(capsys, "models")
    assert code == 0 and "popularity" in out


def test_train_writes_model_and_titles(model_dir):
    assert (model_dir / "meta.json").is_file()
    items = pd.read_csv(model_dir / "items.csv")
    assert {"item", "title"} <= set(items.columns)
    assert json.loads((model_dir / "data.json").read_text())["source"] == "sample"


def test_recommend_json(capsys, model_dir):
    code, out, _ = run(capsys, "recommend", "--model", str(model_dir), "--user", "1", "--user", "5",
                       "--k", "4", "--json")
    assert code == 0
    recs = json.loads(out)
    assert len(recs) == 8
    assert {"user", "rank", "item", "score", "title"} <= set(recs[0])
    assert [r["rank"] for r in recs if r["user"] == 1] == [1, 2, 3, 4]
    assert recs[0]["title"] == "Shawshank Redemption, The (1994)"


def test_recommend_text_and_rerank(capsys, model_dir):
    code, out, _ = run(capsys, "recommend", "--model", str(model_dir), "--user", "1", "--k", "5")
    assert code == 0 and "Shawshank" in out
    pytest.importorskip("graphrec.rerank")
    code, out, _ = run(capsys, "recommend", "--model", str(model_dir), "--user", "1", "--k", "5",
                       "--rerank", "mmr", "--json")
    assert code == 0 and len(json.loads(out)) == 5


def test_recommend_explain(capsys, model_dir):
    code, out, err = run(capsys, "recommend", "--model", str(model_dir), "--user", "1", "--k", "3",
                         "--explain", "--json")
    assert code == 0, err
    recs = json.loads(out)
    assert len(recs) == 3 and all(isinstance(r["because"], str) and r["because"] for r in recs)


def test_evaluate_saved_model(capsys, model_dir, tmp_path):
    res = tmp_path / "res.json"
    code, out, _ = run(capsys, "evaluate", "--model", str(model_dir), "--k", "5", "--json", "--out", str(res))
    assert code == 0
    metrics = json.loads(out)["metrics"]
    assert 0 < metrics["recall@5"] <= 1
    assert json.loads(res.read_text())["metrics"]["recall@5"] == metrics["recall@5"]


def test_evaluate_trains_a_named_model(capsys):
    code, out, _ = run(capsys, "evaluate", "--model", "popularity", "--dataset", "sample")
    assert code == 0 and "ndcg@20" in out


def test_own_csv_with_string_ids_and_time_split(capsys, ratings_csv, tmp_path):
    out_dir = tmp_path / "m"
    code, _, err = run(capsys, "train", "popularity", "--dataset", str(ratings_csv), "--user-col", "who",
                       "--item-col", "what", "--rating-col", "stars", "--time-col", "when",
                       "--title-col", "name", "--min-rating", "3", "--test-size", "0.25", "--out", str(out_dir))
    assert code == 0, err
    code, out, _ = run(capsys, "recommend", "--model", str(out_dir), "--user", "a", "--json")
    recs = json.loads(out)
    assert recs and all(r["title"].startswith("Title ") for r in recs)
    code, out, _ = run(capsys, "evaluate", "--model", str(out_dir), "--json")
    assert code == 0 and json.loads(out)["metrics"]["n_users"] == 6


def test_toml_config(capsys, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('model = "popularity"\ndataset = "sample"\n[params]\nuse_weights = true\n')
    code, _, err = run(capsys, "train", "--config", str(cfg), "--out", str(tmp_path / "m"))
    assert code == 0, err
    assert json.loads((tmp_path / "m" / "meta.json").read_text())["params"]["use_weights"] is True


@pytest.mark.parametrize(
    "text, value", [("3", 3), ("0.5", 0.5), ("true", True), ("[1, 2]", [1, 2]), ("bpr", "bpr"), ("none", None)]
)
def test_param_values(text, value):
    assert param_value(text) == value


def test_demo_fast(capsys, tmp_path):
    code, out, err = run(capsys, "demo", "--fast", "--models", "popularity", "--out", str(tmp_path))
    assert code == 0, err
    assert "recall@20" in out and (tmp_path / "report.md").is_file()
    assert (tmp_path / "recommendations.csv").is_file()


def test_viz_neighborhood_png(capsys, model_dir, tmp_path):
    out = tmp_path / "nb.png"
    code, _, err = run(capsys, "viz", "neighborhood", "--model", str(model_dir), "--user", "1",
                       "--k", "3", "--out", str(out))
    assert code == 0, err
    assert out.stat().st_size > 1000


def test_viz_embeddings_needs_an_embedding_model(capsys, model_dir, tmp_path):
    code, _, err = run(capsys, "viz", "embeddings", "--model", str(model_dir), "--out", str(tmp_path / "e.png"))
    assert code == 1 and "Traceback" not in err


def test_viz_neighborhood_needs_a_centre(capsys, model_dir):
    code, _, err = run(capsys, "viz", "neighborhood", "--model", str(model_dir))
    assert code == 2 and "--user ID or --item ID" in error_line(err)


def test_demo_notes_models_not_registered(tmp_path):
    from graphrec.demo import run_demo

    res = run_demo(tmp_path, models=["popularity", "not-a-model"], budget_scale=0.1, n_users=1)
    assert "not-a-model" in " ".join(res.notes)
    assert list(res.metrics.index) == ["popularity"]
    assert set(res.recommendations["user"]) == {res.recommendations["user"].iloc[0]}


def test_bad_config(capsys, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("modle = 'popularity'\n")
    code, _, err = run(capsys, "train", "--config", str(cfg), "--dataset", "sample", "--out", str(tmp_path / "m"))
    assert code == 2 and "unknown keys ['modle']" in error_line(err)
    cfg.write_text("model = \n")
    code, _, err = run(capsys, "train", "--config", str(cfg), "--out", str(tmp_path / "m"))
    assert code == 2 and "not valid TOML" in error_line(err)


def test_benchmark_json(capsys, tmp_path):
    code, out, err = run(capsys, "benchmark", "--dataset", "sample", "--model", "popularity", "--quick", "--json",
                         "--out", str(tmp_path))
    assert code == 0, err
    result = json.loads(out)[0]
    assert result["metrics"]["recall@20"] > 0 and result["settings_source"] == "graphrec/recipes.py"
    assert json.loads((tmp_path / "sample" / "popularity" / "results.json").read_text())["status"] == "ok"
    assert (tmp_path / "sample" / "popularity" / "model" / "meta.json").is_file()


def test_benchmark_unknown_model_is_a_usage_error(capsys):
    code, _, err = run(capsys, "benchmark", "--dataset", "sample", "--model", "nosuch", "--quick")
    assert code == 2 and "unknown model" in error_line(err)


def test_benchmark_from_an_installed_package(tmp_path):
    """`graphrec benchmark` needs no source checkout: the package alone, copied away from benchmarks/."""
    package = Path(__file__).resolve().parents[1] / "graphrec"
    site = tmp_path / "site"
    shutil.copytree(package, site / "graphrec", ignore=shutil.ignore_patterns("__pycache__"))
    work = tmp_path / "work"
    work.mkdir()
    code = (
        "import sys, graphrec\n"
        f"assert graphrec.__file__.startswith({str(site)!r}), graphrec.__file__\n"
        "from graphrec.cli import main\n"
        "rc = main(['-q', 'benchmark', '--dataset', 'sample', '--model', 'popularity', '--quick', '--json'])\n"
        "assert not [m for m in sys.modules if m in ('jobs', 'run', 'suite', 'peers')], 'benchmarks/ was used'\n"
        "sys.exit(rc)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    proc = subprocess.run([sys.executable, "-c", code], cwd=work, env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)[0]
    assert result["metrics"]["recall@20"] > 0 and result["model"] == "popularity"
    assert not (site / "benchmarks").exists() and not (tmp_path / "benchmarks").exists()


# ---------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "argv, code, words",
    [
        (["train", "popularity", "--dataset", "missing.csv", "--out", "x"], 1, ["no such file", "check the path"]),
        (["train", "popularity", "--dataset", "nosuch", "--out", "x"], 2, ["unknown dataset", "known datasets"]),
        (["train", "nosuch", "--dataset", "sample", "--out", "x"], 2, ["unknown model", "graphrec models"]),
        (["train", "popularity", "--dataset", "sample", "--out", "x", "--epochs", "3"], 2,
         ["no hyperparameter 'epochs'", "use_weights"]),
        (["train", "popularity", "--dataset", "sample", "--out", "x", "-p", "oops"], 2, ["NAME=VALUE"]),
        (["train", "popularity", "--out", "x"], 2, ["no data given", "--dataset"]),
        (["evaluate", "--model", "nosuch", "--dataset", "sample"], 2, ["not a model folder", "unknown model"]),
        (["recommend", "--model", "no/such/dir", "--user", "1"], 1, ["no model folder", "graphrec train"]),
    ],
)
def test_bad_input_one_line(capsys, argv, code, words):
    got, _, err = run(capsys, *argv)
    assert got == code
    line = error_line(err)
    for w in words:
        assert w in line


def test_csv_without_named_column(capsys, ratings_csv):
    code, _, err = run(capsys, "train", "popularity", "--dataset", str(ratings_csv), "--out", "x")
    assert code == 1
    line = error_line(err)
    assert "'user_id' not found" in line and "who" in line and "--user-col" in line


@pytest.mark.parametrize("k", ["0", "-3", "two"])
def test_non_positive_k(capsys, model_dir, k):
    code, _, err = run(capsys, "recommend", "--model", str(model_dir), "--user", "1", "--k", k)
    assert code == 2
    assert ">= 1" in error_line(err)


def test_unknown_user(capsys, model_dir):
    code, _, err = run(capsys, "recommend", "--model", str(model_dir), "--user", "99999")
    assert code == 1
    line = error_line(err)
    assert "unknown user id '99999'" in line and "e.g." in line


def test_no_command_and_debug(capsys, model_dir):
    assert main([]) == 2
    capsys.readouterr()
    assert main(["recommend", "--debug", "--model", str(model_dir), "--user", "99999"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_console_entry_subprocess(model_dir):
    exe = shutil.which("graphrec")
    cmd = [exe] if exe else [sys.executable, "-m", "graphrec"]
    proc = subprocess.run([*cmd, "recommend", "--model", str(model_dir), "--user", "1", "--k", "3", "--json"],
                          check=False, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert [r["rank"] for r in json.loads(proc.stdout)] == [1, 2, 3]


def test_python_dash_m(monkeypatch, capsys, model_dir):
    monkeypatch.setattr(sys, "argv", ["graphrec", "recommend", "--model", str(model_dir), "--user", "nobody"])
    with pytest.raises(SystemExit) as exc:
        runpy.run_module("graphrec", run_name="__main__")
    assert exc.value.code == 1
    assert "unknown user id 'nobody'" in error_line(capsys.readouterr().err)


def test_train_distributed_under_torchrun(tmp_path):
    """`torchrun ... -m graphrec train ... --distributed`: two gloo ranks on loopback."""
    import socket

    import graphrec as gr

    with socket.socket() as s:  # a free port on loopback
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
        "--master_addr", "127.0.0.1", "--master_port", str(port),
        "-m", "graphrec", "-q", "train", "mf", "--dataset", "sample", "--epochs", "2",
        "--device", "cpu", "--out", str(tmp_path / "m"), "--checkpoint-dir", str(tmp_path / "ck"),
        "--distributed", "--dist-timeout", "60",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert isinstance(gr.load(tmp_path / "m"), gr.MF)
    assert (tmp_path / "ck" / "LATEST").exists()
