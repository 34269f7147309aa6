import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from graphrec import metrics as M

LOG2_3 = np.log2(3)


def test_hand_computed_single_user():
    ranked = [[3, 1, 2, 0]]
    rel = [[1, 2]]
    assert M.precision_at_k(ranked, rel, 2)[0] == pytest.approx(0.5)
    assert M.recall_at_k(ranked, rel, 2)[0] == pytest.approx(0.5)
    assert M.recall_at_k(ranked, rel, 3)[0] == pytest.approx(1.0)
    # hits at ranks 2 and 3: DCG = 1/log2(3) + 1/log2(4); ideal = 1 + 1/log2(3)
    assert M.ndcg_at_k(ranked, rel, 3)[0] == pytest.approx((1 / LOG2_3 + 0.5) / (1 + 1 / LOG2_3))
    assert M.map_at_k(ranked, rel, 3)[0] == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert M.hit_rate_at_k(ranked, rel, 1)[0] == 0.0
    assert M.mrr_at_k(ranked, rel, 4)[0] == pytest.approx(0.5)


def test_fewer_relevant_than_k():
    # one relevant item ranked first: perfect NDCG and MAP even at k=3
    ranked = [[7, 1, 2]]
    assert M.ndcg_at_k(ranked, [[7]], 3)[0] == pytest.approx(1.0)
    assert M.map_at_k(ranked, [[7]], 3)[0] == pytest.approx(1.0)
    assert M.recall_at_k(ranked, [[7]], 3)[0] == pytest.approx(1.0)
    assert M.precision_at_k(ranked, [[7]], 3)[0] == pytest.approx(1 / 3)


def test_padding_and_k_larger_than_catalogue():
    # catalogue of 2 items, list padded to 4 with -1
    ranked = [[1, 0, -1, -1]]
    assert M.recall_at_k(ranked, [[0, 1]], 4)[0] == 1.0
    assert M.precision_at_k(ranked, [[0, 1]], 4)[0] == 0.5
    assert M.ndcg_at_k(ranked, [[0, 1]], 4)[0] == pytest.approx(1.0)


def test_user_without_relevant_is_nan():
    out = M.recall_at_k([[0, 1], [0, 1]], [[0], []], 2)
    assert out[0] == 1.0 and np.isnan(out[1])


def test_csr_input_matches_lists():
    ranked = np.array([[2, 0, 1], [1, 2, 0]])
    rel = sp.csr_array(np.array([[1, 0, 1], [0, 0, 1]], np.float32))
    np.testing.assert_allclose(M.ndcg_at_k(ranked, rel, 3), M.ndcg_at_k(ranked, [[0, 2], [2]], 3))


def test_bad_k():
    with pytest.raises(ValueError, match="k"):
        M.recall_at_k([[0]], [[0]], 0)
    with pytest.raises(ValueError, match="exceeds"):
        M.recall_at_k([[0]], [[0]], 2)


def test_beyond_accuracy():
    ranked = np.array([[0, 1], [0, 2]])
    assert M.catalog_coverage(ranked, 4) == 0.75
    pop = np.array([4, 2, 1, 0])
    assert M.novelty(ranked, pop, 4) == pytest.approx(np.mean([0, 1, 0, 2]))
    assert M.average_popularity(ranked, pop) == pytest.approx(2.75)
    cats = np.array(["a", "a", "b", "b"])
    np.testing.assert_allclose(M.intra_list_diversity(ranked, cats), [0.0, 1.0])
    emb = np.array([[1, 0], [1, 0], [0, 1], [0, 1]], np.float32)
    np.testing.assert_allclose(M.intra_list_diversity(ranked, emb), [0.0, 1.0], atol=1e-6)


def test_intra_list_diversity_matches_pairwise_definition():
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(30, 5)).astype(np.float32)
    emb[3] = 0.0  # a zero vector has cosine 0 with everything
    ranked = rng.integers(0, 30, size=(40, 6))
    ranked[:, 0] = 3
    ranked[::3, 4:] = -1  # padded lists
    ranked[1, 1:] = -1  # one item: undefined
    unit = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
    expected = np.full(len(ranked), np.nan)
    for u, row in enumerate(ranked):
        items = row[row >= 0]
        pairs = [(a, b) for a in range(len(items)) for b in range(len(items)) if a != b]
        if pairs:
            expected[u] = np.mean([1 - unit[items[a]] @ unit[items[b]] for a, b in pairs])
    np.testing.assert_allclose(M.intra_list_diversity(ranked, emb), expected, atol=1e-6)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.permutations(list(range(6))), min_size=1, max_size=5),
    st.lists(st.sets(st.integers(0, 5), min_size=1), min_size=5, max_size=5),
    st.integers(1, 6),
)
def test_metrics_in_unit_interval(perms, rel_sets, k):
    ranked = np.array(perms)
    rel = [sorted(s) for s in rel_sets[: len(perms)]]
    for fn in (M.precision_at_k, M.recall_at_k, M.ndcg_at_k, M.map_at_k, M.hit_rate_at_k, M.mrr_at_k):
        v = fn(ranked, rel, k)
        assert np.all((v >= 0) & (v <= 1 + 1e-12))


def test_metrics_from_hits_agrees_with_functions():
    rng = np.random.default_rng(0)
    ranked = np.stack([rng.permutation(30)[:10] for _ in range(20)])
    rel = [rng.choice(30, size=rng.integers(1, 8), replace=False) for _ in range(20)]
    hits, n_rel = M.hit_matrix(ranked, rel)
    per = M.metrics_from_hits(hits, n_rel, 10)
    np.testing.assert_allclose(per["ndcg"], M.ndcg_at_k(ranked, rel, 10))
    np.testing.assert_allclose(per["map"], M.map_at_k(ranked, rel, 10))
    np.testing.assert_allclose(per["mrr"], M.mrr_at_k(ranked, rel, 10))
