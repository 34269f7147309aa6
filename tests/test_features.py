"""Features: side information keyed by the user's own ids, and its named errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import graphrec as gr
from graphrec.data.features import FeatureError, lastfm_features, movielens_features


@pytest.fixture
def x() -> gr.Interactions:
    return gr.Interactions.from_arrays(["a", "b", "c"], [10, 20, 30])


def test_categorical_multi_valued_and_names(x):
    t = pd.DataFrame({"id": [10, 20, 30, 10], "genres": ["A|B", "B", ["C"], "C"]})
    f = gr.Features.from_interactions(x).add_categorical("item", t, "id", "genres", sep="|")
    assert f.item_feature_names == ("genres=A", "genres=B", "genres=C")
    assert f.item_features.toarray().tolist() == [[1, 1, 1], [0, 1, 0], [0, 0, 1]]
    assert f.n_features("user") == 0 and f.user_features.shape == (3, 0)


def test_unknown_ids_raise_or_are_dropped(x):
    t = pd.DataFrame({"id": [10, 99], "genres": ["A", "B"]})
    with pytest.raises(KeyError, match="99"):
        gr.Features.from_interactions(x).add_categorical("item", t, "id", "genres")
    f = gr.Features.from_interactions(x).add_categorical("item", t, "id", "genres", unknown="ignore")
    assert f.item_feature_names == ("genres=A",)
    with pytest.raises(KeyError, match="zz"):
        gr.Features.from_interactions(x).add_relations("user", [["a", "zz"]])


def test_nan_and_empty_values_raise_naming_column_and_id(x):
    f = gr.Features.from_interactions(x)
    with pytest.raises(FeatureError, match=r"'genres' is NaN for id 20"):
        f.add_categorical("item", pd.DataFrame({"id": [10, 20], "genres": ["A", np.nan]}), "id", "genres")
    with pytest.raises(FeatureError, match=r"empty list for id 20"):
        f.add_categorical("item", pd.DataFrame({"id": [10, 20], "genres": ["A", []]}), "id", "genres")
    with pytest.raises(FeatureError, match=r"empty list for id 10"):
        f.add_categorical("item", pd.DataFrame({"id": [10], "genres": ["|"]}), "id", "genres", sep="|")
    with pytest.raises(FeatureError, match=r"'age' is NaN.*'b'"):
        f.add_numeric("user", pd.DataFrame({"u": ["a", "b"], "age": [3.0, np.nan]}), "u", ["age"])
    with pytest.raises(FeatureError, match=r"'tag' is NaN for id 30"):
        f.add_text("item", pd.DataFrame({"id": [10, 30], "tag": ["x y", None]}), "id", "tag")
    with pytest.raises(FeatureError, match="NaN ids"):
        f.add_categorical("item", pd.DataFrame({"id": [np.nan], "g": ["A"]}), "id", "g")
    with pytest.raises(FeatureError, match="no column 'nope'"):
        f.add_categorical("item", pd.DataFrame({"id": [10]}), "id", "nope")


def test_mismatched_indices_raise(x):
    f = gr.Features.from_interactions(x)
    with pytest.raises(FeatureError, match="must have 3 rows"):
        f.add_matrix("item", np.ones((2, 4)))
    with pytest.raises(FeatureError, match="NaN or inf"):
        f.add_matrix("item", [[np.nan], [1.0], [1.0]])
    with pytest.raises(FeatureError, match="negative"):
        f.add_matrix("user", [[-1.0], [1.0], [1.0]])
    with pytest.raises(FeatureError, match="2 names for 1 columns|names has 2 entries"):
        f.add_matrix("user", [[1.0], [1.0], [1.0]], names=["a", "b"])
    other = gr.Interactions.from_arrays(["a", "b"], [10, 20])
    with pytest.raises(FeatureError, match="Features.from_interactions"):
        f.check_aligned(other)
    with pytest.raises(FeatureError, match="different"):
        f.check_aligned(gr.Interactions.from_arrays(["a", "b", "z"], [10, 20, 30]))
    with pytest.raises(FeatureError):
        gr.HybridMF(epochs=1).fit(other, features=f)


def test_numeric_scaled_and_text_features(x):
    f = gr.Features.from_interactions(x).add_numeric(
        "user", pd.DataFrame({"u": ["a", "c"], "age": [20.0, 40.0]}), "u", ["age"]
    )
    assert f.user_features.toarray().ravel().tolist() == [0.0, 0.0, 1.0]
    t = pd.DataFrame({"id": [10, 10, 20, 30], "tag": ["dark", "funny", "funny", "dark"]})
    f = f.add_text("item", t, "id", "tag", min_df=1)
    assert f.item_feature_names == ("tag:dark", "tag:funny")
    m = f.item_features.toarray()
    assert m[1, 0] == 0 and m[1, 1] == pytest.approx(1.0) and m[0, 0] > 0
    h = gr.Features.from_interactions(x).add_text("item", t, "id", "tag", method="hashing", n_features=8)
    assert h.item_features.shape == (3, 8)
    assert np.allclose(np.linalg.norm(h.item_features.toarray(), axis=1), 1.0)


def test_relations_are_symmetric_deduplicated_without_self_links(x):
    f = gr.Features.from_interactions(x).add_relations(
        "user", pd.DataFrame({"s": ["a", "b", "a", "c"], "t": ["b", "a", "a", "a"]})
    )
    r = f.user_relations.toarray()
    assert r.tolist() == [[0, 1, 1], [1, 0, 0], [1, 0, 0]]
    with pytest.raises(FeatureError, match="symmetric"):
        gr.Features(users=x.users, items=x.items, user_relations=sp.csr_array(np.triu(np.ones((3, 3)), 1)))


def test_real_side_data(data_root):
    ds = gr.datasets.load("movielens-small", root=data_root)
    f = movielens_features(data_root / "ml-latest-small", ds)
    names = f.item_feature_names
    assert "genres=Comedy" in names and "decade=1990s" in names and any(n.startswith("tag:") for n in names)
    assert f.item_features.shape[0] == ds.n_items
    lf = gr.datasets.load("lastfm", root=data_root)
    g = lastfm_features(data_root / "lastfm", lf)
    assert g.user_relations.shape == (lf.n_users, lf.n_users) and g.user_relations.nnz > 20_000
    assert gr.datasets.load_features("lastfm", lf, root=data_root).user_relations.nnz == g.user_relations.nnz
