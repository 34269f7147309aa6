"""GraphFilter's pruned item-item filter (``item_neighbors``, issue 21): known answers and invariants."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import graphrec as gr
from graphrec.graph import normalized_interactions
from graphrec.models.graph_filter import GraphFilter, _block_rows, _prune_block, pruned_gram


@pytest.fixture(scope="module")
def data() -> gr.Interactions:
    """60 users x 25 items, skewed (popular items) so rows of P have many ties and many non-zeros."""
    rng = np.random.default_rng(3)
    pop = rng.pareto(1.0, 25) + 0.2
    dense = rng.random((60, 25)) < np.clip(0.04 * pop / pop.mean() * 2, 0.02, 0.9)
    dense[np.arange(60), np.arange(60) % 25] = True  # no isolated user or item
    u, i = np.nonzero(dense)
    return gr.Interactions.from_arrays(u, i, n_users=60, n_items=25)


def reference_prune(p: np.ndarray, m: int) -> np.ndarray:
    """Row by row, the slow obvious way: diagonal, plus the m largest other positive entries (lower index on ties)."""
    out = np.zeros_like(p)
    for j in range(len(p)):
        others = [(-p[j, i], i) for i in range(len(p)) if i != j and p[j, i] > 0]
        for _, i in sorted(others)[:m]:
            out[j, i] = p[j, i]
        out[j, j] = p[j, j]
    return out


def test_hand_checked_small_case():
    # R (3 users x 4 items), unnormalised so P = R^T R is readable:
    #   P = [[3, 2, 1, 1],
    #        [2, 2, 0, 1],
    #        [1, 0, 1, 0],
    #        [1, 1, 0, 1]]
    r = sp.csr_array(np.array([[1, 1, 0, 1], [1, 1, 0, 0], [1, 0, 1, 0]], dtype=np.float64))
    np.testing.assert_array_equal((r.T @ r).toarray(), [[3, 2, 1, 1], [2, 2, 0, 1], [1, 0, 1, 0], [1, 1, 0, 1]])
    # m = 1: row 0 keeps 2 (item 1) over the tied 1s; row 1 keeps 2 (item 0); row 2 its only
    # other entry (item 0); row 3 the tie 1, 1 goes to the lower index (item 0). Diagonals stay.
    expected = [[3, 2, 0, 0], [2, 2, 0, 0], [1, 0, 1, 0], [1, 0, 0, 1]]
    np.testing.assert_array_equal(pruned_gram(r, 1).toarray(), expected)
    # m = 2: row 0 keeps 2 and the first of its tied 1s (item 2); row 1 both others; rows 2, 3 all.
    expected = [[3, 2, 1, 0], [2, 2, 0, 1], [1, 0, 1, 0], [1, 1, 0, 1]]
    np.testing.assert_array_equal(pruned_gram(r, 2).toarray(), expected)
    np.testing.assert_array_equal(pruned_gram(r, 3).toarray(), (r.T @ r).toarray())


@pytest.mark.parametrize("m", [1, 2, 5, 11])
def test_each_row_keeps_exactly_its_top_m(data, m):
    exact = GraphFilter(n_components=0).fit(data).item_filter_.toarray()
    pruned = GraphFilter(n_components=0, item_neighbors=m).fit(data)
    assert pruned.propagation_ == "pruned"
    got = pruned.item_filter_.toarray()
    np.testing.assert_array_equal(got, reference_prune(exact, m))
    off = got.copy()
    np.fill_diagonal(off, 0)
    positive_others = (exact > 0).sum(1) - (np.diag(exact) > 0)
    np.testing.assert_array_equal((off > 0).sum(1), np.minimum(m, positive_others))
    assert (np.diff(pruned.item_filter_.indptr) <= m + 1).all()


@pytest.mark.parametrize("m", [1, 3, 8])
@pytest.mark.parametrize("block_rows", [1, 2, 7, 24, 25, 1000])
def test_block_built_equals_pruning_the_whole_matrix(data, m, block_rows):
    norm = normalized_interactions(data)
    whole = np.asarray((norm.T @ norm).toarray(), np.float32)
    got = pruned_gram(norm, m, block_rows=block_rows)
    assert got.has_sorted_indices and got.dtype == np.float32
    np.testing.assert_array_equal(got.toarray(), reference_prune(whole, m))
    np.testing.assert_array_equal(got.toarray(), pruned_gram(norm, m, block_rows=25).toarray())


@pytest.mark.parametrize("m", [1, 2, 6, 23, 30])
@pytest.mark.parametrize("block_rows", [1, 4, 25])
def test_dense_and_sparse_selection_agree(data, m, block_rows):
    norm = normalized_interactions(data)
    norm_t = sp.csr_array(norm.T)
    whole = np.asarray((norm.T @ norm).toarray(), np.float32)
    expected = reference_prune(whole, m)
    for dense in (True, False):
        got = np.zeros_like(whole)
        for start in range(0, data.n_items, block_rows):
            r, c, v = _prune_block(sp.csr_array(norm_t[start:start + block_rows] @ norm), start, m, dense=dense)
            assert (np.diff(r) >= 0).all() and v.dtype == np.float32
            got[r, c] = v
        np.testing.assert_array_equal(got, expected, err_msg=f"dense={dense}")


def test_hand_checked_case_through_both_selections():
    r = sp.csr_array(np.array([[1, 1, 0, 1], [1, 1, 0, 0], [1, 0, 1, 0]], dtype=np.float64))
    for dense in (True, False):
        rows, cols, vals = _prune_block(sp.csr_array(r.T @ r), 0, 1, dense=dense)
        assert list(zip(rows.tolist(), cols.tolist(), vals.tolist())) == [
            (0, 0, 3.0), (0, 1, 2.0), (1, 0, 2.0), (1, 1, 2.0), (2, 0, 1.0), (2, 2, 1.0), (3, 0, 1.0), (3, 3, 1.0)]


@pytest.mark.parametrize("m", [24, 25, 1000])
def test_enough_neighbors_give_the_exact_filter(data, m):
    a = GraphFilter(n_components=4, random_state=0).fit(data)
    b = GraphFilter(n_components=4, random_state=0, item_neighbors=m).fit(data)
    assert (a.propagation_, b.propagation_) == ("sparse", "pruned")
    np.testing.assert_array_equal(b.item_filter_.toarray(), a.item_filter_.toarray())
    users = np.arange(data.n_users)
    np.testing.assert_array_equal(b.score(users), a.score(users))
    np.testing.assert_array_equal(b.recommend(users, k=5)[0], a.recommend(users, k=5)[0])


def test_pruned_scores_follow_the_pruned_filter(data):
    m = GraphFilter(n_components=3, alpha=0.3, random_state=0, item_neighbors=4).fit(data)
    r = data.to_csr().toarray() > 0
    expected = r @ m.item_filter_.toarray() + 0.3 * m.user_embeddings_ @ m.item_embeddings_.T
    np.testing.assert_allclose(m.score(np.arange(data.n_users)), expected, rtol=1e-5, atol=1e-6)
    # and the exact model's low-rank part is untouched by the pruning
    e = GraphFilter(n_components=3, alpha=0.3, random_state=0).fit(data)
    np.testing.assert_array_equal(m.user_embeddings_, e.user_embeddings_)


def test_block_size_follows_memory_budget(data):
    assert _block_rows(163_924, 2.0 * (1 << 30) / 2) == 204  # 16x Gowalla's catalogue, default budget
    assert _block_rows(25, 1e-9) == 1 and _block_rows(25, 1e12) == 25
    a = GraphFilter(n_components=0, item_neighbors=3).fit(data)
    b = GraphFilter(n_components=0, item_neighbors=3, memory_budget=1e-6).fit(data)  # blocks of one item
    np.testing.assert_array_equal(a.item_filter_.toarray(), b.item_filter_.toarray())


def test_fold_in_and_new_users_with_pruning(data):
    m = GraphFilter(n_components=4, random_state=0, item_neighbors=3).fit(data)
    rows = sp.csr_array(data.to_csr()[:7])
    np.testing.assert_allclose(m.fold_in(rows), m.user_embeddings_[:7], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(m.score_new_users(rows), m.score(np.arange(7)), rtol=1e-5, atol=1e-6)
    new = sp.csr_array((np.ones(3), ([0, 0, 1], [2, 5, 9])), shape=(2, data.n_items))
    expected = (new.toarray() @ m.item_filter_.toarray()
                + m.alpha * m.fold_in(new) @ m.item_embeddings_.T)
    np.testing.assert_allclose(m.score_new_users(new), expected, rtol=1e-5, atol=1e-6)


def test_evaluate_and_save_load(tmp_path, data):
    split = gr.splits.random_holdout(data, test_size=0.2, random_state=0)
    m = GraphFilter(n_components=4, random_state=0, item_neighbors=3).fit(split.train)
    whole = gr.evaluate(m, split.test, k=5)
    blocked = gr.evaluate(m, split.test, k=5, batch_size=7)  # scored in blocks of 7 users
    assert whole["recall@5"] == blocked["recall@5"] and whole["ndcg@5"] == blocked["ndcg@5"]
    m.save(tmp_path / "gf")
    m2 = gr.load(tmp_path / "gf")
    assert m2.get_params()["item_neighbors"] == 3 and m2.propagation_ == "pruned"
    np.testing.assert_array_equal(m2.score([0, 5]), m.score([0, 5]))


@pytest.mark.parametrize("bad", [0, -1, 2.5, 2.0, True, "10"])
def test_bad_item_neighbors(data, bad):
    with pytest.raises(ValueError, match="item_neighbors"):
        GraphFilter(item_neighbors=bad).fit(data)


def test_scaling_benchmark_knows_the_pruned_model_and_tabulates_the_check():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "scaling.py"
    spec = importlib.util.spec_from_file_location("scaling_bench_pruned", path)
    sc = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sc)
    assert sc.PARAMS["graphfilter-pruned"] == {"item_neighbors": 200} and "graphfilter-pruned" in sc.NEXT_STEP
    run = {"recall@20": 0.25, "recall@20_se": 0.005, "ndcg@20": 0.2, "ndcg@20_se": 0.004, "fit_s": 1.0,
           "fit_cpu_s": 0.9, "eval_s": 2.0, "eval_cpu_s": 1.8, "peak_mb": 500.0, "filter_nnz": 1234, "loadavg": [1.5]}
    res = {"runs": [{**run, "name": "exact"},
                    {**run, "name": "m=50", "recall@20": 0.24, "recall@20_diff": -0.01, "recall@20_diff_se": 0.002},
                    {"name": "m=400", "error": "MemoryCeilingError during fit: stopped", "peak_mb": 900.0}]}
    lines = sc.pruned_table(res).splitlines()
    assert len(lines) == 5
    assert lines[2].startswith("| exact | 0.2500 ± 0.0050 | 0.2000 ± 0.0040 | – | 1.0 (0.9) | 2.0 (1.8) | 500 | 1,234 |")
    assert "| m=50 | 0.2400 ± 0.0050 |" in lines[3] and "-0.0100 ± 0.0020" in lines[3]
    assert lines[4].startswith("| m=400 | MemoryCeilingError during fit")
