import numpy as np
import pytest
from conftest import FixedEmbeddings

import graphrec as gr
from graphrec.evaluation import evaluate_rankings


def _oracle(train, test):
    """Embeddings that score exactly the test items highest."""
    r = test.to_csr().toarray() * 10 + train.to_csr().toarray()
    return FixedEmbeddings(user_vectors=r, item_vectors=np.eye(train.n_items)).fit(train)


def test_checkerboard_oracle_is_perfect(checkerboard):
    train, test = checkerboard
    res = gr.evaluate(_oracle(train, test), test, k=(1, 3))
    assert res["recall@1"] == 1.0 and res["ndcg@3"] == 1.0 and res["mrr@3"] == 1.0
    assert res["precision@1"] == 1.0 and res["n_users"] == 8 and res["n_skipped_users"] == 0


def test_seen_items_are_masked(checkerboard):
    train, test = checkerboard
    # scores favour seen items; after masking only the held-out item is left in-community
    u = train.to_csr().toarray() * 100 + test.to_csr().toarray()
    m = FixedEmbeddings(user_vectors=u, item_vectors=np.eye(8)).fit(train)
    assert gr.evaluate(m, test, k=1)["recall@1"] == 1.0


def test_users_without_test_items_are_skipped(checkerboard):
    train, test = checkerboard
    fewer = test.subset(test.user_idx < 5)
    res = gr.evaluate(_oracle(train, test), fewer, k=2)
    assert res["n_users"] == 5 and res["n_skipped_users"] == 3


def test_per_user_and_hand_values(tiny):
    test = gr.Interactions.from_arrays([1], [0], n_users=2, n_items=2)
    m = gr.Popularity().fit(tiny)  # user 1 has seen item 1: only item 0 left
    res = gr.evaluate(m, test, k=(1, 5), per_user=True)
    assert res["recall@5"] == 1.0 and res["precision@5"] == pytest.approx(0.2)
    assert list(res["per_user"]["user"]) == [1]


def test_k_larger_than_catalogue(checkerboard):
    train, test = checkerboard
    res = gr.evaluate(gr.Popularity().fit(train), test, k=50)
    assert res["recall@50"] == 1.0


def test_mismatched_test_raises(checkerboard, tiny):
    train, _ = checkerboard
    with pytest.raises(ValueError, match="IdMaps"):
        gr.evaluate(gr.Popularity().fit(train), tiny, k=2)
    with pytest.raises(ValueError, match="k"):
        gr.evaluate(gr.Popularity().fit(train), checkerboard[1], k=0)


def test_evaluate_rankings_counts_skipped():
    import scipy.sparse as sp

    rel = sp.csr_array(np.array([[1, 0, 0], [0, 0, 0]], np.float32))
    out = evaluate_rankings(np.array([[0, 1], [0, 1]]), rel, k=2)
    assert out["n_users"] == 1 and out["n_skipped_users"] == 1 and out["recall@2"] == 1.0


def test_gowalla_popularity_matches_independent_figures(data_root):
    from graphrec.data.interactions import read_lightgcn_pairs

    train = gr.Interactions.from_lightgcn_txt(data_root / "gowalla" / "train.txt")
    u, i = read_lightgcn_pairs(data_root / "gowalla" / "test.txt")
    n_items = max(train.n_items, int(i.max()) + 1)
    train = gr.Interactions.from_arrays(train.user_idx, train.item_idx, n_users=train.n_users, n_items=n_items)
    test = gr.Interactions.from_arrays(u, i, n_users=train.n_users, n_items=n_items)
    res = gr.evaluate(gr.Popularity().fit(train), test, k=20)
    assert res["recall@20"] == pytest.approx(0.0416, abs=5e-4)
    assert res["ndcg@20"] == pytest.approx(0.0317, abs=5e-4)
