"""Tests of graphrec.retrieval, the retrieval side of Recommender and graphrec.ann."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from conftest import RandomEmbeddings
from hypothesis import given, settings
from hypothesis import strategies as st

import graphrec as gr
from graphrec.retrieval import embedding_scores, mask_rows_, similar, top_k, top_k_embeddings


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(1)
    users = rng.integers(0, 30, 200)
    items = rng.integers(0, 50, 200)
    users = np.concatenate([users, np.zeros(50, np.int64)])  # user 0 has seen everything
    items = np.concatenate([items, np.arange(50)])
    return gr.Interactions.from_arrays(users, items, n_users=30, n_items=50)


@pytest.fixture(scope="module")
def model(data):
    return RandomEmbeddings().fit(data)


def reference_top_k(scores, k, seen=None):
    s = np.array(scores, np.float64)
    if seen is not None:
        s[seen.toarray() > 0] = -np.inf
    order = np.argsort(-s, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(s, order, 1)


def test_top_k_known_answer_and_padding():
    idx, sc = top_k(np.array([[0.1, 0.9, 0.5]], np.float32), 5)
    assert idx.tolist() == [[1, 2, 0, -1, -1]]
    assert np.isneginf(sc[0, 3:]).all()


def test_top_k_does_not_modify_numpy_input():
    s = np.array([[0.1, 0.9, 0.5]], np.float32)
    top_k(s, 2, exclude=sp.csr_array(np.array([[0, 1, 0]], np.float32)))
    assert s[0, 1] == np.float32(0.9)


@pytest.mark.parametrize("k", [0, -1, 1.5, True])
def test_bad_k(k):
    with pytest.raises(ValueError, match="k"):
        top_k(np.zeros((1, 3), np.float32), k)
    with pytest.raises(ValueError, match="k"):
        top_k_embeddings(np.zeros((1, 2)), np.zeros((3, 2)), k)


def test_bad_shapes():
    with pytest.raises(ValueError, match="rows"):
        top_k(np.zeros((2, 3), np.float32), 1, exclude=sp.csr_array((3, 3)), rows=[0])
    with pytest.raises(ValueError, match="dimension"):
        top_k_embeddings(np.zeros((1, 2)), np.zeros((3, 4)), 1)
    with pytest.raises(ValueError, match="similarity"):
        top_k_embeddings(np.zeros((1, 2)), np.zeros((3, 2)), 1, similarity="l2")


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 6), st.integers(1, 12), st.integers(1, 15), st.integers(0, 2**16))
def test_mask_and_top_k_match_dense_reference(n, n_items, k, seed):
    rng = np.random.default_rng(seed)
    scores = rng.normal(size=(n, n_items)).astype(np.float32)
    seen = sp.csr_array((rng.random((n, n_items)) < 0.4).astype(np.float32))
    idx, sc = top_k(torch.from_numpy(scores.copy()), k, exclude=seen)
    ref_idx, ref_sc = reference_top_k(scores, k, seen)
    kk = min(k, n_items)
    valid = np.isfinite(ref_sc)
    assert np.array_equal(np.where(valid, ref_idx, -1), idx[:, :kk])
    assert (idx[:, kk:] == -1).all()
    assert np.allclose(np.where(valid, ref_sc, 0), np.where(valid, sc[:, :kk], 0))
    masked = mask_rows_(torch.from_numpy(scores.copy()), seen, np.arange(n)).numpy()
    assert np.array_equal(np.isneginf(masked), seen.toarray() > 0)


@settings(max_examples=25, deadline=None)
@given(
    st.integers(1, 5), st.integers(1, 20), st.integers(0, 130), st.sampled_from([0.0, 0.5, 0.999]),
    st.integers(0, 2**16),
)
def test_top_k_of_long_rows_matches_dense_reference(n, k, extra, masked, seed):
    # rows long enough for the blocked CPU top-k (8 * k blocks of 64 columns and more),
    # with a partial last block and rows that have fewer than k unmasked items
    n_items = 8 * k * 64 + extra
    rng = np.random.default_rng(seed)
    scores = rng.normal(size=(n, n_items)).astype(np.float32)
    seen = sp.csr_array((rng.random((n, n_items)) < masked).astype(np.float32))
    idx, sc = top_k(torch.from_numpy(scores.copy()), k, exclude=seen)
    ref_idx, ref_sc = reference_top_k(scores, k, seen)
    valid = np.isfinite(ref_sc)
    assert np.array_equal(np.where(valid, ref_idx, -1), idx)
    assert np.array_equal(np.where(valid, ref_sc, -np.inf), sc)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 20), st.integers(1, 8), st.integers(0, 2**16))
def test_cosine_scores_in_range(n, dim, seed):
    rng = np.random.default_rng(seed)
    u = torch.from_numpy((rng.normal(size=(n, dim)) * 10 ** rng.uniform(-3, 3)).astype(np.float32))
    u[0] = 0.0  # a zero vector scores 0
    s = embedding_scores(u, u, "cosine")
    assert (s >= -1).all() and (s <= 1).all()
    _, sc = top_k_embeddings(u, u, 3, similarity="cosine")
    assert (sc[np.isfinite(sc)] <= 1).all() and (sc[np.isfinite(sc)] >= -1).all()


def test_top_k_embeddings_batches_equal_one_pass(data):
    rng = np.random.default_rng(0)
    u, v = rng.normal(size=(30, 4)), rng.normal(size=(50, 4))
    seen = data.to_csr()
    one = top_k_embeddings(u, v, 7, exclude=seen)
    for bs in (1, 4, 64):
        out = top_k_embeddings(u, v, 7, exclude=seen, batch_size=bs)
        assert np.array_equal(one[0], out[0]) and np.allclose(one[1], out[1])
    ref_idx, _ = reference_top_k(u @ v.T, 7, seen)
    ok = one[0] >= 0
    assert np.array_equal(one[0][ok], ref_idx[ok])


def test_recommend_excludes_seen_and_pads_users_with_everything_seen(model, data):
    idx, sc = model.recommend(np.arange(30), k=10)
    seen = data.to_csr().toarray() > 0
    rows = np.repeat(np.arange(30), 10).reshape(30, 10)
    valid = idx >= 0
    assert not seen[rows[valid], idx[valid]].any()
    assert (idx[0] == -1).all() and np.isneginf(sc[0]).all()  # user 0 saw the catalogue
    assert (np.diff(np.where(valid, sc, -1e30), axis=1) <= 0).all()


def test_recommend_k_larger_than_catalogue(model):
    idx, sc = model.recommend([3], k=80, exclude_seen=False)
    assert idx.shape == (1, 80)
    assert sorted(idx[0, :50].tolist()) == list(range(50))
    assert (idx[0, 50:] == -1).all() and np.isneginf(sc[0, 50:]).all()


def test_batch_equals_per_user(model):
    users = np.arange(30)
    idx, sc = model.recommend(users, k=5)
    for u in users:
        i1, s1 = model.recommend([u], k=5)
        assert np.array_equal(i1[0], idx[u]) and np.allclose(s1[0], sc[u])


def test_allow_and_block_lists(model):
    allow = np.array([3, 7, 11, 20, 31])
    idx, _ = model.recommend(np.arange(1, 30), k=5, exclude_seen=False, items=allow)
    assert set(idx[idx >= 0].tolist()) <= set(allow.tolist())
    block = np.arange(0, 50, 2)
    idx, _ = model.recommend(np.arange(1, 30), k=10, exclude_items=block)
    assert not np.isin(idx, block).any()
    idx, _ = model.recommend([1], k=3, items=[5], exclude_items=[5])
    assert (idx == -1).all()


def test_bad_user_and_item_indices(model):
    with pytest.raises(IndexError, match="users"):
        model.recommend([30])
    with pytest.raises(IndexError, match="exclude_items"):
        model.recommend([1], exclude_items=[99])
    with pytest.raises(TypeError, match="users"):
        model.recommend(["alice"])
    with pytest.raises(ValueError, match="k"):
        model.recommend([1], k=0)


def test_recommend_frame_speaks_labels_and_titles():
    x = gr.Interactions.from_arrays(
        np.array(["ann", "ann", "bob", "cy"]), np.array([10, 20, 20, 30])
    )
    m = RandomEmbeddings(embedding_dim=3).fit(x)
    info = pd.DataFrame({"title": ["Ten", "Twenty", "Thirty"]})
    frame = m.recommend_frame(["bob", "cy"], k=2, item_info=info)
    assert list(frame.columns) == ["user", "rank", "item", "score", "title"]
    assert set(frame["user"]) == {"bob", "cy"}
    assert set(frame["item"]) <= {10, 20, 30}
    titles = dict(zip([10, 20, 30], info["title"]))
    assert all(titles[i] == t for i, t in zip(frame["item"], frame["title"]))
    bob = frame[frame["user"] == "bob"]
    assert 20 not in set(bob["item"]) and bob["rank"].tolist() == [1, 2]
    with pytest.raises(KeyError):
        m.recommend_frame(["nobody"])


def test_similar_items_and_users(model):
    for method, n in ((model.similar_items, 50), (model.similar_users, 30)):
        idx, sc = method(np.arange(n), k=n + 2)
        assert (idx[:, n - 1 :] == -1).all()  # self excluded, then padding
        assert not (idx == np.arange(n)[:, None]).any()
        ok = idx >= 0
        assert (np.abs(sc[ok]) <= 1).all()
        assert (np.diff(np.where(ok, sc, -1e30), axis=1) <= 0).all()
    v = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]], np.float32)
    assert similar(v, [0, 2], 1)[0].tolist() == [[1], [1]]
    with pytest.raises(IndexError):
        similar(v, [3], 1)


faiss_missing = not gr.ann.faiss_available()


@pytest.mark.skipif(faiss_missing, reason="faiss-cpu not installed (optional extra graphrec[ann])")
def test_ann_flat_equals_exact_and_respects_exclusion(model, data):
    index = gr.ann.AnnIndex(model.item_embeddings_, kind="flat")
    seen = data.to_csr()
    users = np.arange(30)
    a_idx, a_sc = index.search(model.user_embeddings_, 8, exclude=seen, rows=users)
    e_idx, e_sc = model.recommend(users, k=8)
    assert np.array_equal(a_idx, e_idx)
    assert np.allclose(np.where(e_idx >= 0, a_sc, 0), np.where(e_idx >= 0, e_sc, 0), atol=1e-5)
    r_idx, _ = gr.ann.ann_recommend(model, users, 8, index=index)
    assert np.array_equal(r_idx, e_idx)


@pytest.mark.skipif(faiss_missing, reason="faiss-cpu not installed (optional extra graphrec[ann])")
def test_ann_hnsw_recall_and_errors():
    rng = np.random.default_rng(0)
    v, u = rng.normal(size=(2000, 16)), rng.normal(size=(50, 16))
    index = gr.ann.AnnIndex(v, kind="hnsw", similarity="cosine")
    a_idx, a_sc = index.search(u, 10)
    e_idx, _ = top_k_embeddings(u, v, 10, similarity="cosine")
    recall = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(a_idx, e_idx)])
    assert recall > 0.9
    assert (a_sc <= 1 + 1e-5).all()
    with pytest.raises(ValueError, match="kind"):
        gr.ann.AnnIndex(v, kind="ivf")
    with pytest.raises(ValueError, match="dimension"):
        index.search(u[:, :3], 5)
    with pytest.raises(ValueError, match="k"):
        index.search(u, 0)
