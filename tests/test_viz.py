"""graphrec.viz: neighbourhood selection and drawing, HTML export, embedding maps, curves."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import matplotlib

matplotlib.use("Agg")

import itertools

import networkx as nx
import numpy as np
import pandas as pd
import pytest
import scipy.sparse.linalg as sla

import graphrec as gr
from graphrec import viz
from graphrec.graph import normalized_interactions, to_networkx


class SVDEmbeddings(gr.EmbeddingRecommender):
    """Truncated SVD of the normalised interactions: a fast embedding model for tests."""

    def __init__(self, *, embedding_dim: int = 4, similarity: str = "dot") -> None:
        self.embedding_dim = embedding_dim
        self.similarity = similarity

    def _fit(self, train, valid):
        r = normalized_interactions(train).astype(np.float64)
        u, s, vt = sla.svds(r, k=self.embedding_dim, random_state=0)
        self.user_embeddings_ = (u * np.sqrt(s)).astype(np.float32)
        self.item_embeddings_ = (vt.T * np.sqrt(s)).astype(np.float32)
        self.history_ = [
            {"epoch": e, "loss": 1.0 / e, "seconds": 0.1, "recall@20": 0.1 * e} for e in (1, 2, 3)
        ]


@pytest.fixture(scope="module")
def graph() -> gr.Interactions:
    """60 users x 40 items with 3 loose communities (seeded)."""
    rng = np.random.default_rng(0)
    users, items = [], []
    for u in range(60):
        c = u % 3
        own = rng.choice(np.arange(c * 13, c * 13 + 13), size=5, replace=False)
        other = rng.choice(40, size=2, replace=False)
        for i in np.unique(np.concatenate([own, other])):
            users.append(u)
            items.append(i)
    return gr.Interactions.from_arrays(users, items, n_users=60, n_items=40)


@pytest.fixture(scope="module")
def info() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "title": [f"Film number {i}" for i in range(40)],
            "genres": [f"G{i % 4}|X" for i in range(40)],
        }
    )


@pytest.fixture(scope="module")
def model(graph) -> SVDEmbeddings:
    return SVDEmbeddings().fit(graph)


def _within(x, centre, hops):
    g = to_networkx(x)
    return set(nx.single_source_shortest_path_length(g, centre, cutoff=hops))


def test_import_does_not_load_plotting_libraries():
    code = (
        "import sys, graphrec, graphrec.viz, graphrec.explain; "
        "print('matplotlib' in sys.modules, 'plotly' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


@pytest.mark.parametrize("hops", [1, 2, 3])
def test_ego_nodes_are_exactly_those_within_hops(graph, model, hops):
    nb = viz.neighborhood_graph(model, user=5, hops=hops, k=0, max_nodes=10_000)
    assert set(nb.nodes.index) == _within(graph, 5, hops)
    assert nb.n_within == len(nb.nodes)
    # hop column is the true distance
    dist = nx.single_source_shortest_path_length(to_networkx(graph), 5)
    assert all(nb.nodes.at[n, "hop"] == dist[n] for n in nb.nodes.index)


@pytest.mark.parametrize("max_nodes", [1, 7, 25])
def test_cap_holds_and_keeps_nodes_within_hops(graph, model, max_nodes):
    nb = viz.neighborhood_graph(model, user=5, hops=2, k=0, max_nodes=max_nodes)
    assert len(nb.nodes) == max_nodes
    assert set(nb.nodes.index) <= _within(graph, 5, 2)
    assert nb.nodes.index[0] == 5
    # within a hop the strongest nodes (propagation weight) are kept
    full = viz.neighborhood_graph(model, user=5, hops=2, k=0, max_nodes=10_000).nodes
    for h in (1, 2):
        kept = nb.nodes[nb.nodes["hop"] == h]
        dropped = full[(full["hop"] == h) & ~full.index.isin(nb.nodes.index)]
        if len(kept) and len(dropped):
            assert kept["weight"].min() >= dropped["weight"].max() - 1e-12


def test_cap_holds_with_recommendations(graph, model):
    for max_nodes in (11, 20, 40):
        nb = viz.neighborhood_graph(model, user=3, k=10, max_nodes=max_nodes)
        assert len(nb.nodes) <= max_nodes
        assert (nb.nodes["role"] == "recommended").sum() == 10
    # no room for any path: reachable recommendations say so, not "no path"
    nb = viz.neighborhood_graph(model, user=3, k=10, max_nodes=11)
    recs = nb.nodes[nb.nodes["role"] == "recommended"]
    assert not recs["has_path"].any() and (recs["n_walks"] > 0).all()
    texts = [t.get_text() for ax in viz.draw_neighborhood(nb).axes for t in ax.texts]
    assert sum("(path not shown)" in t for t in texts) == 10
    assert not any("(no path)" in t for t in texts)
    with pytest.raises(ValueError, match="max_nodes"):
        viz.neighborhood_graph(model, user=3, k=10, max_nodes=10)


def _drawn_path_ok(nb, item):
    edges = set(
        zip(nb.edges.loc[nb.edges["on_path"], "src"], nb.edges.loc[nb.edges["on_path"], "dst"])
    )
    walks = nb.paths[nb.paths["item"] == item]
    for nodes in walks["nodes"]:
        if (
            nodes[0] == nb.centre
            and nodes[-1] == nb.x.n_users + item
            and all(n in nb.nodes.index for n in nodes)
            and all((min(s, t), max(s, t)) in edges for s, t in itertools.pairwise(nodes))
        ):
            return True
    return False


def test_every_recommendation_has_a_drawn_path_or_is_marked(graph, model):
    nb = viz.neighborhood_graph(model, user=4, k=10, max_nodes=40)
    recs = nb.nodes[nb.nodes["role"] == "recommended"]
    assert len(recs) == 10
    for _, r in recs.iterrows():
        assert r["has_path"] == _drawn_path_ok(nb, r["index"])
        assert r["has_path"] or r["index"] not in set(nb.paths["item"])
    assert nb.recommendations["has_path"].all()  # connected graph: all reachable


def test_unreachable_recommendation_is_marked_in_the_figure():
    # two components: user 0 sees item 0; items 1, 2 live in the other component
    x = gr.Interactions.from_arrays([0, 1, 2, 2, 3], [0, 1, 1, 2, 2], n_users=4, n_items=3)
    m = gr.Popularity().fit(x)
    nb = viz.neighborhood_graph(m, user=0, k=2)
    assert not nb.recommendations["has_path"].any()
    assert nb.paths.empty
    fig = viz.draw_neighborhood(nb)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert sum("(no path)" in t for t in texts) == 2
    labels = [t.get_text() for t in fig.axes[-1].get_legend().get_texts()]
    assert "recommended, no path drawn" in labels


def test_explanation_paths_drawn_match_explain(graph, model):
    nb = viz.neighborhood_graph(
        model, user=4, k=5, max_nodes=60, paths_per_item=1, weighting="normalized"
    )
    for _, w in nb.paths.iterrows():
        items = gr.explain.because(graph, 4, w["item"], top=1)
        assert w["nodes"][1] - graph.n_users == items["via_item"].iloc[0]
        assert w["share"] == pytest.approx(items["share"].iloc[0])


def test_figure_labels_legend_and_files(graph, model, info, tmp_path):
    fig = viz.neighborhood(model, user=2, k=5, item_info=info)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert any(t.startswith("#1 Film number") for t in texts)
    assert any("Film number" in t and not t.startswith("#") for t in texts)
    assert any(ax.get_legend() is not None for ax in fig.axes)
    png = viz.save_figure(fig, tmp_path / "sub" / "nb.png", close=False)
    svg = viz.save_figure(fig, tmp_path / "nb.svg")
    img = matplotlib.image.imread(png)
    assert img.shape[:2] == (1200, 1600)
    with open(svg) as f:
        assert "<svg" in f.read(200)
    with pytest.raises(ValueError, match="path"):
        viz.save_figure(fig, tmp_path / "nb.txt")


def test_labels_fall_back_to_external_ids(graph, model):
    fig = viz.neighborhood(model, user=2, k=3)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert any(t.startswith("#1 item ") for t in texts)


def test_layout_is_deterministic_and_centred(graph, model):
    a = viz.neighborhood_graph(model, user=7, k=5, max_nodes=30)
    b = viz.neighborhood_graph(model, user=7, k=5, max_nodes=30)
    pd.testing.assert_frame_equal(a.nodes, b.nodes)
    assert (a.nodes.loc[a.centre, ["x", "y"]] == 0).all()
    radius = np.hypot(a.nodes["x"], a.nodes["y"])
    # rings grow with hop; recommendations outermost
    rec = a.nodes["role"] == "recommended"
    assert radius[rec].min() > radius[~rec].max()
    h1 = radius[(a.nodes["hop"] == 1) & ~rec]
    h2 = radius[(a.nodes["hop"] == 2) & ~rec]
    assert h1.max() < h2.min()


def test_item_centre_uses_similar_items(graph, model):
    nb = viz.neighborhood_graph(model, item=3, k=4, max_nodes=30)
    assert nb.centre == graph.n_users + 3
    assert (nb.nodes["role"] == "recommended").sum() == 4
    assert (nb.paths["nodes"].map(len) == 3).all()  # item -> user -> item
    viz.draw_neighborhood(nb)


@pytest.mark.parametrize(("hops", "k"), [(1, 5), (3, 5), (2, 0)])
def test_other_depths_draw(graph, model, hops, k):
    nb = viz.neighborhood_graph(model, user=1, hops=hops, k=k, max_nodes=40)
    assert len(nb.nodes) <= 40
    # walk middles beyond `hops` are kept as "path" nodes, everything else lies within `hops`
    others = nb.nodes[~nb.nodes["role"].isin(["recommended", "path"])]
    assert (others["hop"] <= hops).all()
    fig = viz.draw_neighborhood(nb)
    assert any(ax.get_legend() is not None for ax in fig.axes)


@pytest.mark.parametrize("suffix", [".png", ".svg", ".html"])
def test_save_neighborhood_by_extension(model, info, tmp_path, suffix):
    out = viz.save_neighborhood(model, tmp_path / f"nb{suffix}", user=1, k=3, item_info=info)
    with open(out, "rb") as f:
        text = f.read(400)
    assert {".png": b"\x89PNG", ".svg": b"<svg", ".html": b"<html"}[suffix] in text
    with pytest.raises(ValueError, match="html"):
        viz.save_neighborhood(model, tmp_path / "nb.gif", user=1)


def test_palette_png_is_smaller(model, info, tmp_path):
    fig = viz.neighborhood(model, user=2, k=5, item_info=info)
    full = viz.save_figure(fig, tmp_path / "a.png", close=False)
    small = viz.save_figure(fig, tmp_path / "b.png", palette=True)
    assert (tmp_path / "b.png").stat().st_size < (tmp_path / "a.png").stat().st_size
    assert matplotlib.image.imread(small).shape[:2] == matplotlib.image.imread(full).shape[:2]


def test_argument_errors(graph, model):
    with pytest.raises(ValueError, match="exactly one"):
        viz.neighborhood_graph(model)
    with pytest.raises(ValueError, match="hops"):
        viz.neighborhood_graph(model, user=0, hops=0)
    with pytest.raises(IndexError):
        viz.neighborhood_graph(model, user=graph.n_users)
    with pytest.raises(ValueError, match="model"):
        viz.neighborhood_graph(None, user=0, k=3, train=graph)
    nb = viz.neighborhood_graph(None, user=0, k=0, train=graph)  # graph only, no model
    assert len(nb.nodes) > 1



def test_neighbourhood_options_have_one_home(graph, model, tmp_path):
    """Every neighbourhood function lists NeighborhoodOptions' fields, with its defaults."""
    import dataclasses
    import inspect

    fields = {f.name: f.default for f in dataclasses.fields(viz.NeighborhoodOptions)}
    assert {"hops", "k", "max_nodes", "paths_per_item", "train", "item_info", "weighting"} <= set(fields)
    for func in (viz.neighborhood_graph, viz.neighborhood, viz.neighborhood_html, viz.save_neighborhood):
        params = inspect.signature(func).parameters
        for name, default in fields.items():
            assert params[name].kind is inspect.Parameter.KEYWORD_ONLY, (func.__name__, name)
            assert params[name].default == default, (func.__name__, name)
        with pytest.raises(TypeError, match="no_such_option"):
            func(model, tmp_path / "x.svg", user=0, no_such_option=1) if func is viz.save_neighborhood \
                else func(model, user=0, no_such_option=1)
    with pytest.raises(ValueError, match="max_nodes must exceed k"):
        viz.NeighborhoodOptions(k=5, max_nodes=5)
    with pytest.raises(ValueError, match="k must be >= 0"):
        viz.neighborhood_html(model, user=0, k=-1)
    # an option reaches the selection the same way from every door
    a = viz.neighborhood_graph(model, user=0, k=3, max_nodes=20, label_width=5)
    assert a.nodes["label"].str.len().max() <= 5
    fig = viz.neighborhood(model, user=0, k=3, max_nodes=20, label_width=5)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert any(t for t in texts) and len(a.nodes) <= 20
    matplotlib.pyplot.close(fig)

def test_html_is_self_contained(graph, model, info, tmp_path):
    out = tmp_path / "nb.html"
    doc = viz.neighborhood_html(model, user=2, k=5, item_info=info, path=out)
    assert out.read_text(encoding="utf-8") == doc
    assert len(doc) > 1_000_000  # plotly.js inlined
    # no script, stylesheet or other resource is loaded from anywhere: every <script> is inline
    # and the markup outside the scripts references no URL (the inlined plotly.js bundle
    # itself contains URL strings, e.g. its logo link and map-tile servers, which a scatter
    # plot never requests)
    assert not re.search(r"""<script[^>]*\ssrc\s*=""", doc, re.IGNORECASE)
    markup = re.sub(r"<script[^>]*>.*?</script>", "", doc, flags=re.IGNORECASE | re.DOTALL)
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", markup, re.IGNORECASE)
    assert "https://" not in markup and "http://" not in markup
    assert doc.count("<script") == doc.count("</script>") >= 1
    assert "Film number" in doc and "recommendation #1" in doc


def test_project_embeddings(model):
    v = model.item_embeddings_
    for method, kw in (("pca", {}), ("tsne", {"max_iter": 250})):
        xy = viz.project_embeddings(v, method, random_state=0, **kw)
        assert xy.shape == (len(v), 2) and xy.dtype == np.float32
        np.testing.assert_allclose(xy, viz.project_embeddings(v, method, random_state=0, **kw))
    with pytest.raises(ValueError, match="method"):
        viz.project_embeddings(v, "mds")
    with pytest.raises(ValueError, match="NaN"):
        viz.project_embeddings(np.full((5, 3), np.nan), "pca")
    try:
        import umap  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="umap"):
            viz.project_embeddings(v, "umap")


@pytest.mark.parametrize("color", ["genre", "popularity", "community", None])
def test_embedding_map(model, info, color):
    fig = viz.embedding_map(model, color=color, item_info=info, method="pca")
    assert len(fig.axes[0].collections) >= 1
    if color == "genre":
        labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
        assert any(lab.startswith("G0") for lab in labels)


def test_embedding_map_users_and_sampling(model):
    fig = viz.embedding_map(model, kind="user", color="popularity", max_points=20, method="pca")
    assert "20 of 60" in fig.axes[0].get_title()
    with pytest.raises(ValueError, match="item_info"):
        viz.embedding_map(model, kind="user", color="genre")


def test_embedding_map_panels_and_min_degree(model, info):
    fig = viz.embedding_map(model, color=["genre", "popularity"], item_info=info, min_degree=8)
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert len(panels) == 2
    deg = np.bincount(model.seen_.indices, minlength=40)
    assert f"{(deg >= 8).sum()} of 40 items" in panels[0].get_title()
    with pytest.raises(ValueError, match="rows left"):
        viz.embedding_map(model, min_degree=10_000)
    with pytest.raises(ValueError, match="single"):
        viz.embedding_map(model, color=["genre", "popularity"], item_info=info, ax=fig.axes[0])


def test_training_curves(model):
    fig = viz.training_curves(model)
    assert len(fig.axes) == 2
    assert [ln.get_label() for ln in fig.axes[1].get_lines()] == ["recall@20"]
    fig = viz.training_curves([3.0, 2.0, 1.5])
    assert len(fig.axes) == 1
    # the engine's records: metrics nested under "metrics", extra bookkeeping keys ignored
    hist = [
        {
            "epoch": e,
            "loss": 1 / e,
            "steps": 10 * e,
            "elapsed": e,
            "metrics": {"recall@20": 0.1 * e, "novelty@20": 2.0},
        }
        for e in (1, 2)
    ]
    fig = viz.training_curves(hist)
    assert [ln.get_label() for ln in fig.axes[1].get_lines()] == ["recall@20"]
    with pytest.raises(ValueError, match="history"):
        viz.training_curves(gr.Popularity())


@pytest.mark.slow
def test_gowalla_neighbourhood_is_fast_and_capped(data_root, tmp_path):
    path = data_root / "gowalla" / "train.txt"
    if not path.exists():
        pytest.skip("gowalla/train.txt not found")
    x = gr.Interactions.from_lightgcn_txt(path)
    m = gr.Popularity().fit(x)
    start = time.perf_counter()
    fig = viz.neighborhood(m, user=123, hops=2, k=10, max_nodes=60)
    viz.save_figure(fig, tmp_path / "g.png")
    seconds = time.perf_counter() - start
    nb = viz.neighborhood_graph(m, user=123, hops=2, k=10, max_nodes=60)
    assert len(nb.nodes) <= 60 < nb.n_within
    assert seconds < 15  # acceptance is 5 s on an idle machine; the CI box is shared
