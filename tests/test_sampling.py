"""Negative sampling: never a seen item, vectorised, seeded; epoch batches and shards."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from graphrec.sampling import edge_batches, is_seen, sample_negatives, sample_pool, seen_keys


def _seen():
    rng = np.random.default_rng(0)
    dense = rng.random((50, 30)) < 0.3
    dense[0, :-1] = True  # user 0 has seen every item but the last
    return sp.csr_array(dense.astype(np.float32))


def test_seen_keys_sorted_and_lookup():
    seen = _seen()
    keys = seen_keys(seen)
    assert np.all(np.diff(keys) > 0)
    rows, cols = seen.nonzero()
    assert is_seen(keys, 30, rows, cols).all()
    assert not is_seen(keys, 30, np.array([0]), np.array([29])).any()


def test_negatives_are_never_seen_and_have_the_right_shape():
    seen = _seen()
    users = np.repeat(np.arange(50), 20)
    neg = sample_negatives(seen, users, 3, rng=np.random.default_rng(1))
    assert neg.shape == (1000, 3) and neg.dtype == np.int64
    assert not is_seen(seen_keys(seen), 30, np.repeat(users, 3), neg.ravel()).any()
    assert np.all(neg[users == 0] == 29)  # the only unseen item of user 0


def test_same_generator_seed_same_samples():
    seen = _seen()
    users = np.arange(50)
    a = sample_negatives(seen, users, 2, rng=np.random.default_rng(5))
    b = sample_negatives(seen, users, 2, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)


def test_bad_n_negatives():
    with pytest.raises(ValueError, match="n_negatives"):
        sample_negatives(_seen(), np.arange(3), 0, rng=np.random.default_rng(0))


def test_pool_is_uniform_over_items():
    pool = sample_pool(10, 20000, rng=np.random.default_rng(0))
    counts = np.bincount(pool, minlength=10)
    assert pool.min() >= 0 and pool.max() < 10
    assert counts.min() > 1800 and counts.max() < 2200


def test_edge_batches_cover_each_edge_once_and_shards_are_disjoint():
    batches = edge_batches(103, 10, rng=np.random.default_rng(0))
    allpos = torch.cat(batches).numpy()
    assert sorted(allpos.tolist()) == list(range(103))
    shards = [
        torch.cat(edge_batches(103, 10, rng=np.random.default_rng(0), rank=r, world_size=2)).numpy()
        for r in range(2)
    ]
    assert len(shards[0]) == len(shards[1]) == 51
    assert not set(shards[0]) & set(shards[1])
    with pytest.raises(ValueError, match="rank"):
        edge_batches(10, 2, rng=np.random.default_rng(0), rank=2, world_size=2)
