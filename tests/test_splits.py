"""Tests for graphrec.data.splits (gr.splits)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import graphrec.data.splits as gs
from graphrec.data.interactions import Interactions
from graphrec.data.splits import (
    Split,
    leave_last_out,
    random_holdout,
    temporal_split,
    validation_split,
)


def rows(x: Interactions | None) -> Counter:
    if x is None:
        return Counter()
    w = [None] * x.nnz if x.weights is None else x.weights.tolist()
    t = [None] * x.nnz if x.timestamps is None else x.timestamps.tolist()
    return Counter(zip(x.user_idx.tolist(), x.item_idx.tolist(), w, t))


def assert_partition(x: Interactions, sp: Split) -> None:
    assert rows(sp.train) + rows(sp.test) + rows(sp.valid) == rows(x)
    for part in (sp.train, sp.test, sp.valid):
        if part is not None:
            assert part.users is x.users and part.items is x.items


@pytest.fixture
def timed() -> Interactions:
    # user 0: 5 rows at t=1..5, user 1: 3 rows, user 2: 1 row
    u = [0, 0, 0, 0, 0, 1, 1, 1, 2]
    i = [0, 1, 2, 3, 4, 0, 1, 2, 3]
    t = [5, 1, 4, 2, 3, 10, 30, 20, 7]
    return Interactions.from_arrays(u, i, timestamps=t, weights=np.arange(1, 10, dtype=float))


@st.composite
def interactions(draw, timestamps: bool = True):
    n_users = draw(st.integers(1, 8))
    n_items = draw(st.integers(1, 8))
    pairs = draw(
        st.lists(
            st.tuples(st.integers(0, n_users - 1), st.integers(0, n_items - 1)),
            min_size=1, max_size=40, unique=True,
        )
    )
    u, i = np.array(pairs).T
    w = draw(st.lists(st.integers(0, 5), min_size=len(u), max_size=len(u)))
    t = draw(st.lists(st.integers(0, 6), min_size=len(u), max_size=len(u))) if timestamps else None
    return Interactions.from_arrays(u, i, weights=w, timestamps=t, n_users=n_users, n_items=n_items)


# ---------------------------------------------------------------------- properties
@settings(max_examples=60, deadline=None)
@given(x=interactions(), test_size=st.one_of(st.floats(0.05, 0.95), st.integers(1, 4)),
       min_train=st.integers(0, 3), seed=st.integers(0, 10))
def test_random_holdout_partitions(x, test_size, min_train, seed):
    sp = random_holdout(x, test_size, min_train=min_train, random_state=seed)
    assert_partition(x, sp)
    keep = np.minimum(x.user_degrees, min_train)
    assert (sp.train.user_degrees >= keep).all()


@settings(max_examples=60, deadline=None)
@given(x=interactions(), n=st.one_of(st.floats(0.05, 0.95), st.integers(1, 4)),
       min_train=st.integers(0, 3))
def test_leave_last_out_partitions_and_is_latest(x, n, min_train):
    sp = leave_last_out(x, n, min_train=min_train)
    assert_partition(x, sp)
    for u in np.unique(sp.test.user_idx):
        assert sp.train.timestamps[sp.train.user_idx == u].max(initial=-1) <= (
            sp.test.timestamps[sp.test.user_idx == u].min()
        )


@settings(max_examples=60, deadline=None)
@given(x=interactions(), size=st.floats(0.05, 0.95))
def test_temporal_split_partitions(x, size):
    try:
        sp = temporal_split(x, size)
    except ValueError:  # every timestamp equal: one side would be empty
        assert len(np.unique(x.timestamps)) == 1 or x.nnz == 1
        return
    assert_partition(x, sp)
    assert sp.train.timestamps.max() < sp.test.timestamps.min()


@settings(max_examples=60, deadline=None)
@given(x=interactions(), size=st.one_of(st.floats(0.05, 0.95), st.integers(1, 3)),
       method=st.sampled_from(["random", "last"]), seed=st.integers(0, 5))
def test_validation_split_partitions(x, size, method, seed):
    sp = validation_split(random_holdout(x, 0.3, random_state=seed), size, method=method,
                          random_state=seed)
    assert_partition(x, sp)
    sp2 = validation_split(x, size, method=method, random_state=seed)
    assert sp2.test.nnz == 0
    assert_partition(x, sp2)


# ---------------------------------------------------------------------- known answers
def test_random_holdout_counts_and_determinism():
    x = Interactions.from_arrays(np.repeat(np.arange(50), 10), np.tile(np.arange(10), 50))
    a = random_holdout(x, 0.2, random_state=1)
    b = random_holdout(x, 0.2, random_state=1)
    c = random_holdout(x, 0.2, random_state=2)
    assert (a.test.user_degrees == 2).all() and (a.train.user_degrees == 8).all()
    assert np.array_equal(a.test.item_idx, b.test.item_idx)
    assert not np.array_equal(a.test.item_idx, c.test.item_idx)
    g = np.random.default_rng(1)
    assert np.array_equal(random_holdout(x, 0.2, random_state=g).test.item_idx, a.test.item_idx)


def test_random_holdout_is_random_within_user():
    x = Interactions.from_arrays(np.zeros(10, int), np.arange(10))
    held = {int(random_holdout(x, 1, random_state=s).test.item_idx[0]) for s in range(40)}
    assert len(held) >= 6


def test_min_train_respected(timed):
    sp = random_holdout(timed, 0.9, min_train=2)
    assert sp.train.user_degrees.tolist() == [2, 2, 1]
    sp = random_holdout(timed, 4, min_train=0)
    assert sp.train.user_degrees.tolist() == [1, 0, 0]


def test_leave_last_out_known(timed):
    sp = leave_last_out(timed)
    assert sorted(zip(sp.test.user_idx.tolist(), sp.test.item_idx.tolist())) == [(0, 0), (1, 1)]
    assert sp.train.user_degrees.tolist() == [4, 2, 1]  # user 2 keeps its only row
    sp = leave_last_out(timed, 2)
    assert sorted(sp.test.item_idx[sp.test.user_idx == 0].tolist()) == [0, 2]
    assert rows(sp.test)[(0, 0, 1.0, 5)] == 1  # weights and timestamps travel with rows


def test_leave_last_out_ties_are_deterministic():
    x = Interactions.from_arrays([0, 0, 0], [0, 1, 2], timestamps=[1, 1, 1])
    assert leave_last_out(x).test.item_idx.tolist() == leave_last_out(x).test.item_idx.tolist()


def test_needs_timestamps():
    x = Interactions.from_arrays([0, 0], [0, 1])
    with pytest.raises(ValueError, match="timestamps"):
        leave_last_out(x)
    with pytest.raises(ValueError, match="timestamps"):
        temporal_split(x)
    with pytest.raises(ValueError, match="timestamps"):
        validation_split(x, method="last")


def test_temporal_split_cutoff_and_report(timed):
    sp = temporal_split(timed, cutoff=7)
    assert sorted(sp.test.timestamps.tolist()) == [7, 10, 20, 30]
    r = sp.report()
    assert r["n_train"] == 5 and r["n_test"] == 4
    assert r["test_only_users"] == 2  # users 1 and 2 appear only after the cut: kept, counted
    assert r["test_only_items"] == 0
    assert "test-only users=2" in repr(sp)
    sp = temporal_split(timed, 0.3)
    assert sp.test.nnz == 3 and sp.test.timestamps.min() >= 10
    with pytest.raises(ValueError, match="empty"):
        temporal_split(timed, cutoff=100)
    with pytest.raises(ValueError, match="test_size"):
        temporal_split(timed, 1.5)


def test_validation_split_last(timed):
    sp = validation_split(leave_last_out(timed), 1, method="last")
    assert sorted(zip(sp.valid.user_idx.tolist(), sp.valid.item_idx.tolist())) == [(0, 2), (1, 2)]
    assert sp.report()["n_valid"] == 2
    with pytest.raises(ValueError, match="already"):
        validation_split(sp)


@pytest.mark.parametrize("size", [0, -1, 0.0, 1.0, 1.5, True, "0.2", None])
def test_bad_sizes(timed, size):
    with pytest.raises(ValueError, match="test_size"):
        random_holdout(timed, size)


def test_bad_arguments(timed):
    with pytest.raises(ValueError, match="min_train"):
        random_holdout(timed, min_train=-1)
    with pytest.raises(ValueError, match="method"):
        validation_split(timed, method="middle")
    with pytest.raises(TypeError):
        random_holdout(np.zeros((3, 2)))
    with pytest.raises(TypeError):
        validation_split("x")
    empty = timed.subset(np.zeros(timed.nnz, bool))
    with pytest.raises(ValueError, match="no interactions"):
        random_holdout(empty)


def test_split_requires_shared_idmaps(timed):
    other = Interactions.from_arrays([0], [0])
    with pytest.raises(ValueError, match="IdMaps"):
        Split(timed, other)
    with pytest.raises(TypeError):
        Split(timed, None)


def test_vectorised_on_large_input():
    rng = np.random.default_rng(0)
    n = 300_000
    x = Interactions.from_arrays(rng.integers(0, 20_000, n), rng.integers(0, 5_000, n),
                                 timestamps=rng.integers(0, 10**9, n))
    sp = random_holdout(x, 0.2)
    assert_sizes = sp.train.nnz + sp.test.nnz
    assert assert_sizes == x.nnz
    assert leave_last_out(x).test.nnz == int((x.user_degrees >= 2).sum())


def test_public_module():
    assert set(gs.__all__) == {"Split", "random_holdout", "leave_last_out", "temporal_split",
                               "validation_split", "user_kfold"}
