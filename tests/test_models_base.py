import numpy as np
import pytest
from conftest import FixedEmbeddings

import graphrec as gr


def test_unfitted_raises(checkerboard):
    m = gr.Popularity()
    for call in (lambda: m.score([0]), lambda: m.recommend([0]), lambda: m.save("x")):
        with pytest.raises(gr.NotFittedError):
            call()


def test_fit_validates_input(tiny):
    with pytest.raises(TypeError, match="Interactions"):
        gr.Popularity().fit([[0, 1]])
    other = gr.Interactions.from_arrays([0], [0], n_users=5, n_items=5)
    with pytest.raises(ValueError, match="valid"):
        gr.Popularity().fit(tiny, valid=other)


def test_recommend_padding_when_everything_seen(tiny):
    m = gr.Popularity().fit(tiny)
    idx, scores = m.recommend([0, 1], k=3)
    assert idx[0].tolist() == [-1, -1, -1] and np.isneginf(scores[0]).all()
    assert idx[1].tolist() == [0, -1, -1]


def test_recommend_bad_arguments(tiny):
    m = gr.Popularity().fit(tiny)
    with pytest.raises(ValueError, match="k"):
        m.recommend([0], k=0)
    with pytest.raises(IndexError, match="users"):
        m.recommend([7])
    with pytest.raises(TypeError, match="users"):
        m.recommend(["alice"])
    with pytest.raises(KeyError, match="unknown"):
        m.recommend_frame([99])


def test_allow_and_block_lists(checkerboard):
    train, _ = checkerboard
    m = gr.Popularity().fit(train)
    idx, _ = m.recommend([0], k=8, exclude_seen=False, items=[2, 5])
    assert sorted(idx[0][idx[0] >= 0].tolist()) == [2, 5]
    idx, _ = m.recommend([0], k=8, exclude_seen=False, exclude_items=[0, 1])
    assert not {0, 1} & set(idx[0].tolist())


def test_recommend_frame_with_titles(checkerboard):
    import pandas as pd

    train, _ = checkerboard
    info = pd.DataFrame({"title": [f"t{i}" for i in range(8)]})
    df = gr.Popularity().fit(train).recommend_frame([0, 5], k=2, item_info=info)
    assert list(df.columns) == ["user", "rank", "item", "score", "title"]
    assert df["rank"].tolist() == [1, 2, 1, 2]
    assert all(t == f"t{i}" for t, i in zip(df["title"], df["item"]))


def test_similarity_override_and_cosine_range(checkerboard):
    train, _ = checkerboard
    rng = np.random.default_rng(1)
    m = FixedEmbeddings(user_vectors=rng.normal(size=(8, 4)) * 5, item_vectors=rng.normal(size=(8, 4))).fit(train)
    cos = m.score(np.arange(8), similarity="cosine")
    assert cos.min() >= -1 and cos.max() <= 1
    with pytest.raises(ValueError, match="similarity"):
        m.score([0], similarity="euclid")
    idx, s = m.similar_items([0, 1], k=3)
    assert 0 not in idx[0] and 1 not in idx[1] and (s <= 1).all()


def test_replaced_embeddings_are_never_served_stale(checkerboard):
    train, _ = checkerboard
    rng = np.random.default_rng(2)
    m = FixedEmbeddings(user_vectors=rng.normal(size=(8, 3)), item_vectors=rng.normal(size=(8, 3))).fit(train)
    for _ in range(20):  # new arrays may reuse a freed address: the cache must notice anyway
        m.user_embeddings_ = rng.normal(size=(8, 3)).astype(np.float32)
        m.item_embeddings_ = rng.normal(size=(8, 3)).astype(np.float32)
        np.testing.assert_allclose(m.score([0]), m.user_embeddings_[:1] @ m.item_embeddings_.T, rtol=1e-5)
