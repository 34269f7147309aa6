"""A metric's name says what it measured (issue 16): the diversity metrics."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import graphrec as gr
from graphrec.cli import main
from graphrec.evaluation import evaluate_rankings
from graphrec.workflow import ITEMS_FILE, save_model


def test_evaluate_rankings_names_each_similarity():
    ranked = np.array([[0, 1], [0, 2]])
    relevant = gr.Interactions.from_arrays([0, 1], [0, 0], n_users=2, n_items=3).to_csr()
    cats = np.array(["a", "a", "b"])
    emb = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]], np.float32)
    res = evaluate_rankings(ranked, relevant, k=2, item_features=cats, item_embeddings=emb)
    assert res["category_diversity@2"] == pytest.approx(0.5)
    assert res["embedding_diversity@2"] == pytest.approx(0.5)
    assert "diversity@2" not in list(res)  # not a key: tables and JSON show the named metrics only
    res = evaluate_rankings(ranked, relevant, k=2, item_features=emb)
    assert {k for k in res if "diversity" in k} == {"feature_diversity@2"}
    res = evaluate_rankings(ranked, relevant, k=2)
    assert not [k for k in res if "diversity" in k]
    with pytest.raises(KeyError):
        res["diversity@2"]  # no data, no diversity, under any name


def test_old_name_warns_and_keeps_its_old_value():
    ranked = np.array([[0, 1], [0, 2]])
    relevant = gr.Interactions.from_arrays([0, 1], [0, 0], n_users=2, n_items=3).to_csr()
    cats = np.array([0, 0, 1])
    res = evaluate_rankings(ranked, relevant, k=2, item_features=cats)
    with pytest.warns(FutureWarning, match="category_diversity@2"):
        assert res["diversity@2"] == res["category_diversity@2"]
    with pytest.warns(FutureWarning):
        assert res.get("diversity@2") == res["category_diversity@2"]
    assert "diversity@2" in res
    assert json.loads(json.dumps(res)).keys() == dict(res).keys()


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    ds = gr.datasets.load("sample")
    model = gr.MF(embedding_dim=8, epochs=2, random_state=0).fit(ds.train)
    path = tmp_path_factory.mktemp("m") / "mf"
    save_model(model, path, item_info=ds.item_info, data={"source": "sample"})
    return path


def _evaluate(path) -> dict:
    out = path.parent / f"eval-{len(list(path.parent.iterdir()))}.json"
    assert main(["evaluate", "--model", str(path), "--k", "20", "--out", str(out)]) == 0
    return json.loads(out.read_text())["metrics"]


def test_deleting_items_csv_changes_which_metric_not_its_meaning(saved_model):
    """The issue's case: without items.csv, 'diversity@20' went 0.73 -> 0.13 under one name."""
    with_info = _evaluate(saved_model)
    assert 0 < with_info["category_diversity@20"] <= 1
    assert 0 < with_info["embedding_diversity@20"] <= 1
    assert "diversity@20" not in with_info
    (saved_model / ITEMS_FILE).unlink()
    without = _evaluate(saved_model)
    assert "category_diversity@20" not in without  # no categories: not reported, not replaced
    assert without["embedding_diversity@20"] == pytest.approx(with_info["embedding_diversity@20"])
    assert without["recall@20"] == with_info["recall@20"]


def test_evaluate_reports_embedding_diversity_beside_given_categories():
    ds = gr.datasets.synthetic(n_users=60, n_items=30, n_communities=3, random_state=0)
    model = gr.MF(embedding_dim=8, epochs=2, random_state=0).fit(ds.train)
    cats = ds.item_info["category"].to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = gr.evaluate(model, ds.test, k=5, item_features=cats)
        plain = gr.evaluate(model, ds.test, k=5)
    assert res["embedding_diversity@5"] == pytest.approx(plain["embedding_diversity@5"])
    assert "category_diversity@5" in res and "category_diversity@5" not in plain
