"""graphrec.explain: walks, their contributions, and labelled explanation tables."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

import graphrec as gr
from graphrec import explain
from graphrec.graph import bipartite_adjacency, normalized_adjacency


@pytest.fixture
def random_graph() -> gr.Interactions:
    rng = np.random.default_rng(3)
    dense = rng.random((7, 9)) < 0.4
    dense[np.arange(7), np.arange(7)] = True  # no isolated user
    u, i = np.nonzero(dense)
    return gr.Interactions.from_arrays(u, i, n_users=7, n_items=9)


class Propagating(gr.Popularity):
    """Popularity that declares LightGCN's rule: 'auto' weighting picks 'normalized' if n_layers > 0."""

    def __init__(self, *, use_weights: bool = False, n_layers: int = 3) -> None:
        super().__init__(use_weights=use_weights)
        self.n_layers = n_layers

    def explain_weighting(self) -> str:
        return "normalized" if self.n_layers > 0 else "count"


@pytest.mark.parametrize("weighting", ["normalized", "count"])
def test_walk_contributions_sum_to_matrix_power(random_graph, weighting):
    x = random_graph
    a = explain.path_adjacency(x, weighting)
    dense = a.toarray().astype(np.float64)
    powers = {1: dense, 2: dense @ dense, 3: dense @ dense @ dense}
    n = x.n_users + x.n_items
    for length, p in powers.items():
        for s in range(n):
            for t in range(0, n, 2):
                nodes, w = explain.walks(a, s, t, length)
                assert w.sum() == pytest.approx(p[s, t], rel=1e-5, abs=1e-9)
                if len(w):
                    assert (nodes[:, 0] == s).all() and (nodes[:, -1] == t).all()
                    # every step is an edge, and the weight is the product of the edge weights
                    steps = dense[nodes[:, :-1], nodes[:, 1:]]
                    assert (steps != 0).all()
                    np.testing.assert_allclose(w, steps.prod(axis=1), rtol=1e-6)
                    assert (np.diff(w) <= 1e-12).all()  # strongest first


def test_paths_user_to_item_match_a3_and_exist(random_graph):
    x = random_graph
    a = normalized_adjacency(x).toarray().astype(np.float64)
    a3 = a @ a @ a
    dense = bipartite_adjacency(x).toarray()
    for user in range(x.n_users):
        for item in range(x.n_items):
            f = explain.paths(x, item, user=user, top=None)
            assert f["contribution"].sum() == pytest.approx(
                a3[user, x.n_users + item], rel=1e-5, abs=1e-9
            )
            for nodes in f["nodes"]:
                assert len(nodes) == 4
                assert all(dense[s, t] for s, t in itertools.pairwise(nodes))
            if len(f):
                assert f["share"].sum() == pytest.approx(1.0)
                assert (f["via_item"] >= 0).all() and (f["via_user"] >= 0).all()
                assert list(f["rank"]) == list(range(1, len(f) + 1))


def test_paths_top_keeps_share_of_total(random_graph):
    full = explain.paths(random_graph, 8, user=0, top=None)
    top = explain.paths(random_graph, 8, user=0, top=2)
    assert len(top) == min(2, len(full))
    np.testing.assert_allclose(top["share"], full["share"][: len(top)])


def test_paths_between_items_have_length_two(random_graph):
    x = random_graph
    a = normalized_adjacency(x).toarray().astype(np.float64)
    f = explain.paths(x, 3, source_item=0, top=None)
    assert (f["length"] == 2).all()
    assert f["contribution"].sum() == pytest.approx((a @ a)[x.n_users, x.n_users + 3], rel=1e-5)
    assert (f["via_item"] == -1).all()


def test_because_collapses_middle_user(random_graph):
    x = random_graph
    for weighting in ("normalized", "count"):
        walks = explain.paths(x, 8, user=1, top=None, weighting=weighting)
        items = explain.because(x, 1, 8, top=None, weighting=weighting)
        assert items["contribution"].sum() == pytest.approx(walks["contribution"].sum())
        assert items["n_paths"].sum() == len(walks)
        grouped = walks.groupby("via_item")["contribution"].sum()
        np.testing.assert_allclose(
            items.set_index("via_item")["contribution"], grouped.reindex(items["via_item"])
        )
    # count weighting: the contribution of an item is its co-occurrence count with the target
    r = x.to_csr().toarray()
    counts = explain.because(x, 1, 8, top=None, weighting="count")
    co = r.T @ r
    for via, c in zip(counts["via_item"], counts["contribution"]):
        assert c == co[via, 8]


def test_labels_use_titles_when_known(random_graph):
    info = pd.DataFrame({"title": [f"Movie {i}" for i in range(random_graph.n_items)]})
    f = explain.paths(random_graph, 8, user=0, item_info=info)
    assert f["label"].iloc[0].startswith("user 0 \u2192 Movie ")
    assert f["label"].iloc[0].endswith("Movie 8")
    plain = explain.paths(random_graph, 8, user=0)
    assert plain["label"].iloc[0].endswith("item 8")
    assert (
        explain.because(random_graph, 0, 8, item_info=info)["label"]
        .iloc[0]
        .startswith("because of Movie")
    )


def test_explain_recommendations_auto_weighting(checkerboard):
    train, _ = checkerboard
    for model, expect in ((gr.Popularity(), "count"), (Propagating(), "normalized")):
        model.fit(train)
        f = explain.explain_recommendations(model, 0, k=2, top=None)
        assert set(f["rec_rank"]) == {1, 2}
        a = explain.path_adjacency(train, expect).toarray().astype(np.float64)
        a3 = a @ a @ a
        for item, g in f.groupby("item"):
            assert g["contribution"].sum() == pytest.approx(a3[0, train.n_users + item], rel=1e-5)
    items = explain.explain_recommendations(model, 0, k=2, level="item")
    assert {"via_item", "n_paths"} <= set(items.columns)


def test_auto_weighting_rules():
    assert explain._resolve_weighting("auto", gr.Popularity()) == "count"
    assert explain._resolve_weighting("auto", Propagating(n_layers=0)) == "count"
    assert explain._resolve_weighting("auto", Propagating(n_layers=2)) == "normalized"

    class Declared(gr.Popularity):
        def explain_weighting(self) -> str:
            return "normalized"

    assert explain._resolve_weighting("auto", Declared()) == "normalized"
    assert explain._resolve_weighting("count", Propagating()) == "count"
    # the library's own declarations
    assert explain._resolve_weighting("auto", gr.LightGCN(n_layers=2)) == "normalized"
    assert explain._resolve_weighting("auto", gr.LightGCN(n_layers=0)) == "count"
    assert explain._resolve_weighting("auto", gr.MF()) == "count"
    assert explain._resolve_weighting("auto", gr.GraphFilter()) == "normalized"
    assert explain._resolve_weighting("auto", gr.DeepWalk()) == "count"

    class Broken(gr.Popularity):
        def explain_weighting(self) -> str:
            return "pagerank"

    with pytest.raises(ValueError, match="explain_weighting"):
        explain._resolve_weighting("auto", Broken())
    with pytest.raises(ValueError, match="needs a model"):
        explain.paths(gr.Interactions.from_arrays([0], [0]), 0, user=0, weighting="auto")


def test_unreachable_recommendation_is_marked(checkerboard):
    train, _ = checkerboard
    model = gr.Popularity().fit(train)
    # items 4..7 belong to the other community: no walk from user 0
    f = explain.explain_recommendations(model, 0, items=np.array([5]))
    assert len(f) == 1 and f["label"].iloc[0] == "no path" and f["contribution"].iloc[0] == 0


def test_training_interactions_roundtrip(checkerboard):
    train, _ = checkerboard
    model = gr.Popularity().fit(train)
    x = explain.training_interactions(model)
    assert (x.to_csr() != train.to_csr()).nnz == 0
    assert explain.training_interactions(model, train) is train
    with pytest.raises(TypeError):
        explain.training_interactions(model, train.to_csr())
    small = gr.Interactions.from_arrays([0], [0], n_users=1, n_items=1)
    with pytest.raises(ValueError, match="users"):
        explain.training_interactions(model, small)


def test_errors(random_graph):
    x = random_graph
    with pytest.raises(ValueError, match="exactly one"):
        explain.paths(x, 0)
    with pytest.raises(ValueError, match="exactly one"):
        explain.paths(x, 0, user=0, source_item=1)
    with pytest.raises(ValueError, match="length"):
        explain.paths(x, 0, user=0, length=2)
    with pytest.raises(ValueError, match="length"):
        explain.walks(explain.path_adjacency(x), 0, 1, 4)
    with pytest.raises(ValueError, match="weighting"):
        explain.paths(x, 0, user=0, weighting="pagerank")
    with pytest.raises(IndexError):
        explain.paths(x, x.n_items, user=0)
    with pytest.raises(IndexError):
        explain.because(x, x.n_users, 0)


def test_user_and_item_index_accept_string_ids():
    x = gr.Interactions.from_pandas(pd.DataFrame({"u": [10, 20], "i": [7, 9]}), user="u", item="i")
    model = gr.Popularity().fit(x)
    assert explain.user_index(model, "20") == explain.user_index(model, 20) == 1
    assert explain.item_index(model, "9") == 1
    with pytest.raises(KeyError, match="unknown user"):
        explain.user_index(model, "30")
