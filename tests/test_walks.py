"""Random walks and skip-gram pairs: shapes, edges followed, seeds, node2vec bias."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from graphrec.data.synthetic import synthetic
from graphrec.graph import bipartite_adjacency
from graphrec.walks import random_walks, skipgram_pairs, walk_starts


@pytest.fixture(scope="module")
def graph():
    ds = synthetic(n_users=60, n_items=40, n_communities=2, interactions_per_user=5, random_state=0)
    return ds.train, bipartite_adjacency(ds.train)


def test_shape_and_edges(graph):
    x, a = graph
    rng = np.random.default_rng(0)
    starts = walk_starts(a, 3, rng=rng)
    walks = random_walks(a, starts, 7, rng=rng)
    assert walks.shape == (3 * (x.n_users + x.n_items), 7) and walks.dtype == np.int64
    np.testing.assert_array_equal(walks[:, 0], starts)
    dense = a.toarray() > 0
    assert dense[walks[:, :-1], walks[:, 1:]].all()  # every step follows an existing edge
    is_user = walks < x.n_users
    assert (is_user[:, :-1] != is_user[:, 1:]).all()  # bipartite: users and items alternate


def test_same_seed_same_walks(graph):
    _, a = graph
    w1 = random_walks(a, np.arange(50), 10, rng=np.random.default_rng(5))
    w2 = random_walks(a, np.arange(50), 10, rng=np.random.default_rng(5))
    w3 = random_walks(a, np.arange(50), 10, rng=np.random.default_rng(6))
    np.testing.assert_array_equal(w1, w2)
    assert not np.array_equal(w1, w3)


def test_uniform_neighbour_choice():
    # a star: centre 0 with leaves 1..4; first steps from the centre are uniform over leaves
    a = sp.csr_array(([1.0] * 8, ([0, 0, 0, 0, 1, 2, 3, 4], [1, 2, 3, 4, 0, 0, 0, 0])), shape=(5, 5))
    walks = random_walks(a, np.zeros(8000, np.int64), 2, rng=np.random.default_rng(0))
    counts = np.bincount(walks[:, 1], minlength=5)[1:]
    assert counts.min() > 1800 and counts.max() < 2200


def test_isolated_start_is_padded():
    a = sp.csr_array(([1.0, 1.0], ([0, 1], [1, 0])), shape=(3, 3))  # node 2 has no edges
    walks = random_walks(a, [2, 0], 4, rng=np.random.default_rng(0))
    assert walks[0].tolist() == [2, -1, -1, -1] and walks[1].tolist() == [0, 1, 0, 1]
    assert sorted(walk_starts(a, 1, rng=np.random.default_rng(0)).tolist()) == [0, 1]


def test_node2vec_return_bias(graph):
    _, a = graph
    starts = np.repeat(np.arange(10), 200)
    rng = np.random.default_rng(0)
    back_often = random_walks(a, starts, 3, p=0.05, q=1.0, rng=rng)
    back_rarely = random_walks(a, starts, 3, p=20.0, q=1.0, rng=rng)
    ret = lambda w: (w[:, 2] == w[:, 0]).mean()
    assert ret(back_often) > 0.6 and ret(back_rarely) < 0.1
    dense = a.toarray() > 0
    assert dense[back_rarely[:, :-1], back_rarely[:, 1:]].all()


def test_skipgram_pairs():
    walks = np.array([[0, 1, 2, 3], [4, 5, -1, -1]])
    c, x = skipgram_pairs(walks, window=2)
    pairs = sorted(zip(c.tolist(), x.tolist()))
    expected = sorted(
        [(0, 1), (1, 0), (1, 2), (2, 1), (2, 3), (3, 2), (4, 5), (5, 4), (0, 2), (2, 0), (1, 3), (3, 1)]
    )
    assert pairs == expected


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda a: random_walks(a, [0], 1, rng=np.random.default_rng(0)), "walk_length"),
        (lambda a: random_walks(a, [0], 3, p=0, rng=np.random.default_rng(0)), "p"),
        (lambda a: random_walks(a, [0], 3, q=-1, rng=np.random.default_rng(0)), "q"),
        (lambda a: walk_starts(a, 0, rng=np.random.default_rng(0)), "walks_per_node"),
        (lambda a: skipgram_pairs(np.zeros((2, 3), np.int64), 0), "window"),
    ],
)
def test_bad_arguments(graph, call, name):
    with pytest.raises(ValueError, match=name):
        call(graph[1])


def test_bad_starts_and_types(graph):
    _, a = graph
    with pytest.raises(IndexError):
        random_walks(a, [a.shape[0]], 3, rng=np.random.default_rng(0))
    with pytest.raises(TypeError):
        random_walks(np.eye(3), [0], 3, rng=np.random.default_rng(0))
