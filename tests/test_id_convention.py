"""One id convention at the user's door (issue #16): ``ids="raw"`` / ``ids="index"`` everywhere."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import graphrec as gr
from graphrec import explain, viz
from graphrec.coldstart import fold_in_user, fold_in_users, recommend_new_user, recommend_new_users
from graphrec.exceptions import ColdStartError, UnknownIdError


@pytest.fixture(scope="module")
def shifted():
    """Two communities whose user and item ids are NOT their indices (ids 1.. like MovieLens)."""
    rng = np.random.default_rng(0)
    users, items = [], []
    for u in range(12):
        pool = np.arange(0, 8) if u < 6 else np.arange(8, 16)
        for i in rng.choice(pool, size=4, replace=False):
            users.append(u)
            items.append(i)
    # labels: users 101.., items 1.. in reverse order, so index i is never label i
    x = gr.Interactions.from_arrays(np.asarray(users) + 101, 16 - np.asarray(items))
    assert not x.users.is_identity and not x.items.is_identity
    return x


@pytest.fixture(scope="module")
def mf(shifted):
    return gr.MF(embedding_dim=8, epochs=5, random_state=0, verbose=False).fit(shifted)


def test_recommend_with_raw_ids_equals_the_index_path(mf, shifted):
    labels = [101, 107]
    idx, sc = mf.recommend(shifted.users.to_index(labels), k=3)
    raw, sc_raw = mf.recommend(labels, k=3, ids="raw")
    assert raw.tolist() == shifted.items.to_labels(idx.ravel()).reshape(idx.shape).tolist()
    np.testing.assert_array_equal(sc, sc_raw)
    # allow and block lists follow the same convention
    allowed = shifted.items.labels[:5]
    raw, _ = mf.recommend(labels, k=2, ids="raw", items=allowed, exclude_items=allowed[:1],
                          exclude_seen=False)
    assert set(raw.ravel().tolist()) <= set(allowed[1:].tolist())
    # scores for users given by id
    np.testing.assert_array_equal(mf.score(labels, ids="raw"), mf.score(shifted.users.to_index(labels)))


def test_raw_results_padded_with_none(mf, shifted):
    raw, sc = mf.recommend([101], k=16, ids="raw")  # fewer than 16 unseen items
    assert raw.dtype == object and raw[0, -1] is None and sc[0, -1] == -np.inf
    assert all(v is not None for v in raw[0][np.isfinite(sc[0])])


def test_similar_items_and_users_take_raw_ids(mf, shifted):
    idx, _ = mf.similar_items(shifted.items.to_index([3]), k=4)
    raw, _ = mf.similar_items([3], k=4, ids="raw")
    assert raw.tolist() == [shifted.items.to_labels(idx[0]).tolist()]
    idx, _ = mf.similar_users(shifted.users.to_index([102]), k=2)
    raw, _ = mf.similar_users([102], k=2, ids="raw")
    assert raw.tolist() == [shifted.users.to_labels(idx[0]).tolist()]


def test_unknown_raw_ids_and_bad_ids_value(mf):
    with pytest.raises(UnknownIdError, match="unknown user id 5.*ids='index'"):
        mf.recommend([5], ids="raw")
    with pytest.raises(KeyError):  # UnknownIdError is a KeyError (STYLE.md: unknown label)
        mf.similar_items([999], ids="raw")
    with pytest.raises(ValueError, match="ids must be 'raw'"):
        mf.recommend([0], ids="labels")
    with pytest.raises(IndexError):
        mf.recommend([50])  # the index path still checks its range


# ---------------------------------------------------------------------- cold start
def test_cold_start_with_your_item_ids(mf, shifted):
    # the case: ids that are also valid indices must be read as ids when told so
    given = [1, 2, 3]
    raw, sc = recommend_new_user(mf, given, k=4, ids="raw")
    idx, sc_idx = recommend_new_user(mf, shifted.items.to_index(given), k=4, ids="index")
    assert raw.tolist() == shifted.items.to_labels(idx).tolist()
    np.testing.assert_allclose(sc, sc_idx)
    assert not set(raw.tolist()) & set(given)  # the given films themselves are excluded
    np.testing.assert_allclose(fold_in_user(mf, given, ids="raw"),
                               fold_in_users(mf, [shifted.items.to_index(given)], ids="index")[0])
    many, _ = recommend_new_users(mf, [given, [9, 10]], k=4, ids="raw")
    assert many[0].tolist() == raw.tolist()


def test_cold_start_without_ids_warns_where_ids_differ_from_indices(mf):
    with pytest.warns(FutureWarning, match="ids='raw'.*0.3.0"):
        recommend_new_user(mf, [1, 2, 3], k=2)
    with pytest.warns(FutureWarning):
        fold_in_user(mf, [1, 2, 3])
    identity = gr.MF(embedding_dim=4, epochs=1, random_state=0, verbose=False).fit(
        gr.Interactions.from_arrays([0, 0, 1], [0, 1, 2], n_users=2, n_items=3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        recommend_new_user(identity, [0], k=1)  # ids and indices agree: nothing to warn about


@pytest.mark.parametrize("ids", ["raw", "index"])
def test_cold_start_refuses_bad_item_lists(mf, ids):
    with pytest.raises(ColdStartError, match="has no items"):
        recommend_new_user(mf, [], k=3, ids=ids)
    with pytest.raises(ColdStartError, match="new user 1 has no items"):
        recommend_new_users(mf, [[1], []], k=3, ids=ids)
    with pytest.raises(ColdStartError, match="item 2 more than once"):
        recommend_new_user(mf, [2, 2, 3], k=3, ids=ids)
    with pytest.raises(ColdStartError, match="more than once"):
        fold_in_user(mf, [4, 4], ids=ids)
    bad_error = UnknownIdError if ids == "raw" else IndexError
    with pytest.raises(bad_error):
        recommend_new_user(mf, [99], k=3, ids=ids)


def test_cold_start_empty_never_returns_score_zero_items(shifted):
    pop = gr.Popularity().fit(shifted)
    with pytest.raises(ColdStartError):
        recommend_new_user(pop, [], k=5, ids="raw")


# ---------------------------------------------------------------------- explain, viz
def test_explain_with_raw_ids(mf, shifted):
    u = int(shifted.users.to_index([104])[0])
    by_index = explain.explain_recommendations(mf, u, k=3, ids="index")
    by_id = explain.explain_recommendations(mf, 104, k=3, ids="raw")
    assert by_index.equals(by_id)
    assert by_id["item_id"].tolist() == shifted.items.to_labels(by_id["item"].to_numpy()).tolist()
    items = explain.explain_recommendations(mf, 104, items=[1, 2], ids="raw")
    assert set(items["item_id"]) == {1, 2}
    with pytest.warns(FutureWarning):
        explain.explain_recommendations(mf, u, k=1)
    with pytest.raises(UnknownIdError):
        explain.explain_recommendations(mf, 3, ids="raw")


def test_neighborhood_with_raw_ids(mf, shifted):
    u = int(shifted.users.to_index([104])[0])
    a = viz.neighborhood_graph(mf, user=u, k=3, ids="index")
    b = viz.neighborhood_graph(mf, user=104, k=3, ids="raw")
    assert a.nodes.equals(b.nodes)
    c = viz.neighborhood_graph(mf, item=5, k=3, ids="raw")
    d = viz.neighborhood_graph(mf, item=int(shifted.items.to_index([5])[0]), k=3, ids="index")
    assert c.nodes.equals(d.nodes)
    with pytest.warns(FutureWarning, match="neighbourhood centre"):
        viz.neighborhood_graph(mf, user=u, k=1)


def test_recommend_frame_takes_user_ids_and_says_how_items_are_given(mf, shifted):
    allowed = shifted.items.labels[:6]
    by_id = mf.recommend_frame([101], k=3, items=allowed, ids="raw", exclude_seen=False)
    by_index = mf.recommend_frame([101], k=3, items=shifted.items.to_index(allowed), exclude_seen=False)
    assert by_id.equals(by_index) and set(by_id["item"]) <= set(allowed.tolist())
    with pytest.raises(UnknownIdError, match="unknown user id 5"):
        mf.recommend_frame([5], k=3)
